/**
 * Keyset pagination ("seek method") over a database table: each page is
 * `WHERE key > :last ORDER BY key LIMIT :n`, so the cost per page stays flat however deep the
 * read goes (OFFSET pagination rereads every skipped row), rows inserted behind the cursor are
 * not seen twice, and the last key is a natural resume checkpoint for the bulk indexer.
 */
import { SearchError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'
import { quoteIdentifier } from '../sql.js'

/** A function that runs a parameterized SQL query and returns its rows (e.g. a mariadb pool's `query`). */
export type SqlQuery = (sql: string, params: unknown[]) => Promise<unknown>

/** Options of {@link keysetReader}. */
export type KeysetReaderOptions<Row, K> = {
  /** Start after this key (a checkpoint); omit to start at the beginning. */
  after?: K | undefined
  /** Rows per page. @default 1000 */
  pageSize?: number | undefined
} & (
  | {
      /** Fetch up to `limit` rows with key greater than `after`, in key order. */
      fetchPage: (after: K | undefined, limit: number) => Promise<Row[]>
      /** The key of a row. */
      keyOf: (row: Row) => K
    }
  | {
      /** Query function of the database driver (`pool.query.bind(pool)`). */
      query: SqlQuery
      /** Table name (letters, digits, `_`). */
      table: string
      /** Unique, indexed key column (letters, digits, `_`). */
      key: string
      /** Columns to select. @default ['*'] */
      columns?: readonly string[] | undefined
    }
)

const KNOWN_READER_OPTIONS: ReadonlySet<string> = new Set([
  'after',
  'pageSize',
  'fetchPage',
  'keyOf',
  'query',
  'table',
  'key',
  'columns',
])

/**
 * Read a table (or any keyset-pageable source) as an async iterable of rows. Options are checked
 * on the first `next()` (unknown keys refused by name), before any query.
 */
export async function* keysetReader<Row = Record<string, unknown>, K = unknown>(
  options: KeysetReaderOptions<Row, K>,
): AsyncGenerator<Row, void, undefined> {
  checkOptionKeys(options, KNOWN_READER_OPTIONS, 'keysetReader')
  const pageSize = options.pageSize ?? 1_000
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `pageSize must be a positive integer, got ${pageSize}`)
  }
  let fetchPage: (after: K | undefined, limit: number) => Promise<Row[]>
  let keyOf: (row: Row) => K
  if ('fetchPage' in options) {
    fetchPage = options.fetchPage
    keyOf = options.keyOf
  } else {
    const table = quoteIdentifier(options.table, 'table')
    const key = quoteIdentifier(options.key, 'key')
    const columns = (options.columns ?? ['*'])
      .map((c) => (c === '*' ? c : quoteIdentifier(c, 'column')))
      .join(', ')
    const { query } = options
    const keyName = options.key
    fetchPage = async (after, limit) => {
      const rows =
        after === undefined
          ? await query(`SELECT ${columns} FROM ${table} ORDER BY ${key} LIMIT ?`, [limit])
          : await query(`SELECT ${columns} FROM ${table} WHERE ${key} > ? ORDER BY ${key} LIMIT ?`, [
              after,
              limit,
            ])
      return Array.from(rows as Iterable<Row>)
    }
    keyOf = (row) => (row as Record<string, unknown>)[keyName] as K
  }
  let after = options.after
  for (;;) {
    const rows = await fetchPage(after, pageSize)
    for (const row of rows) yield row
    if (rows.length < pageSize) return
    after = keyOf(rows[rows.length - 1] as Row)
  }
}
