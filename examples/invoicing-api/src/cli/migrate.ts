/** `pnpm run migrate`: apply prisma/migrations/*.sql to DATABASE_URL's database. */
import { serviceAddresses } from '../config.ts'
import { migrate } from '../database/migrate.ts'

const report = await migrate(serviceAddresses().databaseUrl)
console.log(`migrations: ${report.applied.length} applied, ${report.skipped.length} already there`)
