/**
 * The part of a SQL database the package uses: parameterized queries, transactions and pooled
 * connections (a mariadb/mysql2 pool, connection or `PoolConnection` fits), and the one rule for
 * names it puts into SQL text itself (tables, columns): plain identifiers only, quoted with
 * backticks, checked when the option is given, so no name reaches a query unchecked. Values
 * always go as parameters.
 */
import { SearchError } from './errors.js'

/** The part of a database connection the outbox uses (a mariadb/mysql2 connection or pool fits). */
export interface SqlExecutor {
  /** Run a parameterized query; returns rows for SELECT. */
  query(sql: string, params?: unknown[]): Promise<unknown>
}

/** A connection that can run a transaction (a mariadb `PoolConnection` fits). */
export interface SqlTransactionalConnection extends SqlExecutor {
  beginTransaction(): Promise<void>
  commit(): Promise<void>
  rollback(): Promise<void>
  release(): Promise<void> | void
}

/** Hands out connections for the worker (a mariadb `Pool` fits). */
export interface SqlConnectionSource extends SqlExecutor {
  getConnection(): Promise<SqlTransactionalConnection>
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * `name` quoted for SQL text (`` `invoices` ``), when it is a plain identifier (letters, digits,
 * `_`, not starting with a digit).
 *
 * @throws SearchError `E_SEARCH_INVALID_OPTION` naming `what` otherwise
 */
export function quoteIdentifier(name: string, what: string): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name))
    throw new SearchError('E_SEARCH_INVALID_OPTION', `${what} must be a plain SQL identifier, got "${name}"`)
  return `\`${name}\``
}

/** The rows of a driver's query result (an array, or an iterable of rows). */
export function rowsOf<T>(result: unknown): T[] {
  return Array.from(result as Iterable<T>)
}
