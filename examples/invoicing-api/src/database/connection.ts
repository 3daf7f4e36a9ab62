/**
 * The database connections: one `mariadb` pool for Prisma (through its MariaDB driver adapter: no
 * query engine binary, the TypeScript query compiler runs in process), the seed's raw batches and
 * the search outbox worker.
 */
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { createPool, type Pool, type PoolConfig } from 'mariadb'
import { PrismaClient } from '../generated/prisma/client.ts'

/** `mysql://user:password@host:port/database` -> mariadb pool settings. */
export function poolConfig(databaseUrl: string, connectionLimit = 8): PoolConfig & { database: string } {
  const url = new URL(databaseUrl)
  const database = decodeURIComponent(url.pathname.slice(1))
  if (!/^[A-Za-z0-9_]+$/.test(database))
    throw new Error(`DATABASE_URL must name a database, got "${database}"`)
  return {
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
    database,
    connectionLimit,
    // DATE and DATETIME values are UTC in this application.
    timezone: 'Z',
  }
}

/** The application's database access. */
export interface Database {
  /** Prisma on the shared pool. */
  prisma: PrismaClient
  /** Prisma's pool (also the seed's raw batches and the outbox worker's connections). */
  pool: Pool
  /** Disconnect Prisma and end the pool. */
  close(): Promise<void>
}

/** Open the pool and a Prisma client on it. */
export function openDatabase(databaseUrl: string, connectionLimit?: number): Database {
  const pool = createPool(poolConfig(databaseUrl, connectionLimit))
  // The adapter's own `mariadb` dependency may be another patch version than ours: the pool's
  // shape is the same, so it is handed over as the adapter's type.
  const adapter = new PrismaMariaDb(pool as unknown as ConstructorParameters<typeof PrismaMariaDb>[0])
  const prisma = new PrismaClient({ adapter })
  return {
    prisma,
    pool,
    async close() {
      await prisma.$disconnect()
      if (!pool.closed) await pool.end()
    },
  }
}
