/**
 * A seeded dataset of the test's own: a new database on the machine's MariaDB (migrated), the
 * invoices seeded into it and into a new search index and Kafka topic (the names carry the
 * dataset's generation), and `dispose()` removing all of it. The Prisma client is generated code
 * (gitignored): it is generated first, as the package scripts do.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createConnection } from 'mariadb'
import type { ResourceNames, ServiceAddresses } from '../../src/config.ts'
import type { Database } from '../../src/database/connection.ts'

/** The example's root folder. */
export const EXAMPLE_ROOT = join(import.meta.dirname, '..', '..')

/** A dataset and what the test reads it with. */
export interface TestDataset {
  /** The service addresses, with this dataset's own database. */
  addresses: ServiceAddresses
  /** The resource names of the seeded generation. */
  names: ResourceNames
  /** A small Prisma + pool connection to the dataset's database. */
  db: Database
  /** The SQL-only reference queries (the truth). */
  sql: typeof import('../../src/cli/reference-queries.ts')
  /** Close the connection, remove the index, topic, keys and the database. */
  dispose(): Promise<void>
}

/** Generate the Prisma client, then migrate and seed `count` invoices into `ayala_invoicing_<label>_<random>`. */
export async function provisionDataset(label: string, count: number): Promise<TestDataset> {
  await promisify(execFile)('pnpm', ['run', 'generate'], { cwd: EXAMPLE_ROOT, timeout: 120_000 })
  const { serviceAddresses } = await import('../../src/config.ts')
  const { migrate } = await import('../../src/database/migrate.ts')
  const { openDatabase } = await import('../../src/database/connection.ts')
  const { seed, dropResources } = await import('../../src/seed/seed.ts')
  const sql = await import('../../src/cli/reference-queries.ts')
  const databaseUrl = new URL(serviceAddresses().databaseUrl)
  databaseUrl.pathname = `/ayala_invoicing_${label}_${randomBytes(4).toString('hex')}`
  const addresses = serviceAddresses({ ...process.env, INVOICING_DATABASE_URL: databaseUrl.toString() })
  await migrate(addresses.databaseUrl)
  const { names } = await seed(addresses, { count, log: () => undefined })
  const db = openDatabase(addresses.databaseUrl, 2)
  return {
    addresses,
    names,
    db,
    sql,
    async dispose() {
      await db.close()
      await dropResources(addresses, names, () => undefined)
      await dropDatabase(addresses.databaseUrl)
    },
  }
}

/** Drop the database of `databaseUrl` (if it exists). */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const target = new URL(databaseUrl)
  const connection = await createConnection({
    host: target.hostname,
    port: Number(target.port || 3306),
    user: decodeURIComponent(target.username || 'root'),
    password: decodeURIComponent(target.password),
  })
  try {
    await connection.query(`DROP DATABASE IF EXISTS \`${target.pathname.slice(1)}\``)
  } finally {
    await connection.end()
  }
}
