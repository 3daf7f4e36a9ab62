/** `pnpm run seed [count]`: migrate, then seed COUNT (default 20,000) invoices into a new dataset. */
import { serviceAddresses } from '../config.ts'
import { migrate } from '../database/migrate.ts'
import { seed } from '../seed/seed.ts'

const count = Number(process.argv[2] ?? process.env.SEED_INVOICES ?? 20_000)
const addresses = serviceAddresses()
await migrate(addresses.databaseUrl)
const report = await seed(addresses, { count })
console.log(`dataset ${report.names.generation}: ${report.invoices} invoices seeded`)
