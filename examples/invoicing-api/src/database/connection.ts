/**
 * The database connections: a `mariadb` pool for Prisma (through its MariaDB driver adapter: no
 * query engine binary, the TypeScript query compiler runs in process), and a small pool of its own
 * for the search outbox worker.
 *
 * Why the worker has its own pool in READ COMMITTED: it claims events with
 * `SELECT ... FOR UPDATE SKIP LOCKED` and keeps its transaction open while the bulk request to
 * the engine runs. Under MariaDB's default REPEATABLE READ that locking read also takes next-key
 * (gap) locks up to the end of the outbox index, so every application transaction inserting an
 * event waited for the engine's answer: PATCH /invoices/:id took 1.5-14 s whenever the engine was
 * slow. READ COMMITTED takes record locks only; SKIP LOCKED still keeps two workers apart.
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
  /** Prisma's pool (raw batches of the seed). */
  pool: Pool
  /** The outbox worker's pool (READ COMMITTED, 2 connections). */
  outboxPool: Pool
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
  const outboxPool = createPool({
    ...poolConfig(databaseUrl, 2),
    initSql: 'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED',
  })
  return {
    prisma,
    pool,
    outboxPool,
    async close() {
      await prisma.$disconnect()
      if (!pool.closed) await pool.end()
      if (!outboxPool.closed) await outboxPool.end()
    },
  }
}
