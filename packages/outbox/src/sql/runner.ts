/**
 * The part of a database driver the outbox uses, and adapters from the drivers users have.
 *
 * The outbox writes with the caller's own transaction handle, whatever it is: a `mariadb`
 * connection, a `mysql2` connection (promise API, or callback API through `.promise()`), a `pg`
 * client, or a Prisma interactive transaction (`prisma.$transaction(async (tx) => ...)`). It never
 * begins or commits the caller's transaction; it adds its rows to it, so they commit or roll back
 * with the business write.
 *
 * The relay needs transactions of its own for one statement pair (the claim), so it takes a pool
 * (`mariadb` Pool, `mysql2` Pool, `pg` Pool) or a Prisma client.
 */
import { OutboxError } from '../errors.js'

/** A row as returned by a driver (column name to value). */
export type SqlRow = Record<string, unknown>

/** What one statement returned. */
export interface SqlResult {
  /** Rows of a SELECT (or `RETURNING`); empty for other statements. */
  rows: SqlRow[]
  /** Rows changed by an INSERT, UPDATE or DELETE. */
  affected: number
}

/**
 * Runs one parameterized statement. Parameters are positional; the SQL carries the dialect's own
 * placeholders (`?` for MariaDB/MySQL, `$1` for PostgreSQL). Pass an object of this shape to use a
 * driver this package does not know.
 */
export interface SqlRunner {
  run(sql: string, params: readonly unknown[]): Promise<SqlResult>
}

/** A database handle the outbox can write with: a driver connection, a Prisma transaction, or a {@link SqlRunner}. */
export type SqlHandle = SqlRunner | object

/** A pool (or Prisma client) the relay takes connections and transactions from. */
export type SqlPool = object

type AnyFn = (...args: unknown[]) => unknown

function has(target: object, name: string): boolean {
  return typeof (target as Record<string, unknown>)[name] === 'function'
}

function call(target: object, name: string, ...args: unknown[]): unknown {
  return ((target as Record<string, AnyFn>)[name] as AnyFn).apply(target, args)
}

function isPrisma(handle: object): boolean {
  return has(handle, '$executeRawUnsafe') && has(handle, '$queryRawUnsafe')
}

/** mysql2's promise wrappers keep the callback object as `connection` (or `pool`) and have `execute`. */
function isMysql2(handle: object): boolean {
  return has(handle, 'execute') && has(handle, 'query') && ('connection' in handle || 'pool' in handle)
}

function affectedOf(result: unknown): number {
  if (typeof result === 'number' || typeof result === 'bigint') return Number(result)
  if (result !== null && typeof result === 'object') {
    const r = result as { affectedRows?: unknown; rowCount?: unknown }
    if (r.affectedRows !== undefined) return Number(r.affectedRows)
    if (r.rowCount !== undefined && r.rowCount !== null) return Number(r.rowCount)
  }
  return 0
}

function rowsOf(result: unknown): SqlRow[] {
  return Array.isArray(result) ? (Array.from(result) as SqlRow[]) : []
}

function unknownHandle(what: string): OutboxError {
  return new OutboxError(
    'E_OUTBOX_INVALID_OPTION',
    `${what} is not a database handle the outbox knows: pass a mariadb/mysql2/pg connection, a Prisma transaction client, or an object with run(sql, params)`,
  )
}

/**
 * Wrap a driver handle as a {@link SqlRunner}. `dialect` tells a `pg` client (whose `query`
 * answers `{ rows }`) from a `mariadb` one (whose `query` answers the rows).
 *
 * @throws OutboxError `E_OUTBOX_INVALID_OPTION` for a value that is none of the known handles
 */
export function toRunner(handle: SqlHandle, dialect: 'mysql' | 'postgres'): SqlRunner {
  if (handle === null || typeof handle !== 'object') throw unknownHandle(String(handle))
  if (has(handle, 'run') && !has(handle, 'query') && !isPrisma(handle)) return handle as SqlRunner
  if (isPrisma(handle)) {
    return {
      async run(sql, params) {
        if (/^\s*(SELECT|WITH)\b/i.test(sql) || /\bRETURNING\b/i.test(sql)) {
          const rows = (await call(handle, '$queryRawUnsafe', sql, ...params)) as SqlRow[]
          return { rows: rowsOf(rows), affected: rowsOf(rows).length }
        }
        return { rows: [], affected: affectedOf(await call(handle, '$executeRawUnsafe', sql, ...params)) }
      },
    }
  }
  // mysql2's callback API: its promise wrapper has the same shape as the promise API's.
  if (has(handle, 'promise') && !isMysql2(handle) && dialect === 'mysql') {
    return toRunner(call(handle, 'promise') as object, dialect)
  }
  if (isMysql2(handle)) {
    return {
      async run(sql, params) {
        const [result] = (await call(handle, 'query', sql, params)) as [unknown, unknown]
        return { rows: rowsOf(result), affected: affectedOf(result) }
      },
    }
  }
  if (has(handle, 'query')) {
    if (dialect === 'postgres') {
      return {
        async run(sql, params) {
          const result = (await call(handle, 'query', sql, params)) as { rows?: SqlRow[]; rowCount?: number }
          return { rows: result.rows ?? [], affected: affectedOf(result) }
        },
      }
    }
    return {
      async run(sql, params) {
        const result = await call(handle, 'query', sql, params)
        return { rows: rowsOf(result), affected: affectedOf(result) }
      },
    }
  }
  throw unknownHandle(Object.prototype.toString.call(handle))
}

/** Runs `work` in a transaction of its own; the relay's view of a pool. */
export interface SqlTransactor {
  /** A runner for single statements (autocommit). */
  readonly runner: SqlRunner
  /**
   * Run `work` in a transaction at READ COMMITTED: committed when it resolves, rolled back when
   * it throws.
   */
  transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T>
}

interface PooledConnection {
  handle: object
  /** Return the connection to the pool, or destroy it when `broken`. */
  release(broken: boolean): Promise<void>
}

/**
 * Wrap a pool (or a Prisma client) as a {@link SqlTransactor}.
 *
 * @throws OutboxError `E_OUTBOX_INVALID_OPTION` for a value that is none of the known pools
 */
export function toTransactor(pool: SqlPool, dialect: 'mysql' | 'postgres'): SqlTransactor {
  if (pool === null || typeof pool !== 'object') throw unknownHandle(String(pool))
  if (has(pool, 'transaction') && has(pool, 'runner')) return pool as SqlTransactor
  if (isPrisma(pool) && has(pool, '$transaction')) {
    return {
      runner: toRunner(pool, dialect),
      async transaction(work) {
        return (await call(pool, '$transaction', (tx: object) => work(toRunner(tx, dialect)), {
          isolationLevel: 'ReadCommitted',
        })) as never
      },
    }
  }
  // mysql2's callback pool: use its promise wrapper.
  const base =
    has(pool, 'promise') && !isMysql2(pool) && dialect === 'mysql' ? (call(pool, 'promise') as object) : pool
  const acquire = async (): Promise<PooledConnection> => {
    if (dialect === 'postgres') {
      if (!has(base, 'connect')) throw unknownHandle('pool')
      const client = (await call(base, 'connect')) as object
      return {
        handle: client,
        async release(broken) {
          // pg destroys a client released with a truthy argument instead of pooling it.
          call(client, 'release', broken)
        },
      }
    }
    if (!has(base, 'getConnection')) throw unknownHandle('pool')
    const connection = (await call(base, 'getConnection')) as object
    return {
      handle: connection,
      async release(broken) {
        if (broken && has(connection, 'destroy')) call(connection, 'destroy')
        else await call(connection, 'release')
      },
    }
  }
  return {
    runner: toRunner(base, dialect),
    async transaction(work) {
      const connection = await acquire()
      const runner = toRunner(connection.handle, dialect)
      let broken = false
      try {
        if (dialect === 'mysql') {
          // READ COMMITTED for this transaction only: under InnoDB's REPEATABLE READ the claim's
          // FOR UPDATE also locks the gap after the last row, so every writer recording an effect
          // would wait for the claim to commit.
          await runner.run('SET TRANSACTION ISOLATION LEVEL READ COMMITTED', [])
          await runner.run('START TRANSACTION', [])
        } else {
          await runner.run('BEGIN ISOLATION LEVEL READ COMMITTED', [])
        }
        const result = await work(runner)
        await runner.run('COMMIT', [])
        return result
      } catch (error) {
        await runner.run('ROLLBACK', []).catch(() => {
          // The connection is unusable (the server went away): it is destroyed below instead of
          // being returned to the pool; the error that matters is the one rethrown.
          broken = true
        })
        throw error
      } finally {
        await connection.release(broken)
      }
    },
  }
}
