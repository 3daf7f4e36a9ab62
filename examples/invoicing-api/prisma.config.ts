import { defineConfig } from 'prisma/config'

/** Prisma CLI configuration: `prisma generate` only (migrations are applied by src/database/migrate.ts). */
export default defineConfig({
  schema: 'prisma/schema.prisma',
})
