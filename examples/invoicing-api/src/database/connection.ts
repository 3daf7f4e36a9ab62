/**
 * The database connections: one `mariadb` pool for Prisma (through its MariaDB driver adapter: no
 * query engine binary, the TypeScript query compiler runs in process), the seed's raw batches and
 * the search outbox worker.
 */
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { createConnection, createPool, type Pool, type PoolConfig } from 'mariadb'
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
    connectTimeout: 2_000,
  }
}

/**
 * Deadlines of the application's pool: no request waits on a database that does not answer. A
 * connection is handed out within `acquireTimeout` or the call fails (503 at the HTTP edge), and
 * a socket silent for `socketTimeout` (a hung server or route) is closed, failing its query,
 * instead of waiting for the kernel's TCP timeout (minutes). The SQL paths behind the fast tiers
 * answer in 10-100 ms at the demo's size; 10 s is far above them. Seeds, migrations and the
 * demo's SQL-only comparisons (a `LIKE` scan takes ~10 s at 1,000,000 invoices) open their
 * connections without these bounds.
 */
export const APP_POOL_TIMEOUTS = Object.freeze({ acquireTimeout: 2_000, socketTimeout: 10_000 })

/** The application's database access. */
export interface Database {
  /** Prisma on the shared pool. */
  prisma: PrismaClient
  /** Prisma's pool (also the seed's raw batches and the outbox worker's connections). */
  pool: Pool
  /** Disconnect Prisma and end the pool. */
  close(): Promise<void>
}

/**
 * Open the pool and a Prisma client on it; `timeouts` bound it (the application passes
 * {@link APP_POOL_TIMEOUTS}).
 */
export function openDatabase(
  databaseUrl: string,
  connectionLimit?: number,
  timeouts: { acquireTimeout?: number; socketTimeout?: number } = {},
): Database {
  const pool = createPool({ ...poolConfig(databaseUrl, connectionLimit), ...timeouts })
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

/**
 * Why the database of `databaseUrl` cannot be used now, from one direct connection (1 s), or
 * undefined when it answers: `MariaDB at 127.0.0.1:3306 refused user "app" ((conn:-1, no: 1045,
 * SQLState: 28000) Access denied for user 'app'@'localhost' (using password: YES))`. The
 * server's text never carries the password; the URL is never quoted.
 */
export async function databaseFailure(databaseUrl: string): Promise<string | undefined> {
  const { connectionLimit: _, ...config } = poolConfig(databaseUrl)
  const where = `MariaDB at ${config.host}:${config.port}`
  try {
    const connection = await createConnection({ ...config, connectTimeout: 1_000 })
    await connection.end()
    return undefined
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const message = error instanceof Error ? error.message : String(error)
    return code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR'
      ? `${where} refused user "${config.user}" (${message})`
      : `${where} cannot be reached as user "${config.user}" (${message})`
  }
}
