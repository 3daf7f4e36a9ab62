/**
 * The database side of `reconcile()` over one MariaDB/MySQL table, with keyset queries on its
 * key column (the primary key, or any unique indexed column):
 *
 * - digests of consecutive ranges in one query: `SELECT CASE WHEN k < ? THEN 0 WHEN k < ? THEN 1
 *   ... END AS b, COUNT(*), SUM(version), SUM(k) FROM t WHERE k >= ? AND k < ? GROUP BY b`, one
 *   range scan of the key index whatever the number of ranges;
 * - bounds: `SELECT MIN(k), MAX(k)` (two index dives);
 * - versions: `WHERE k >= ? AND k < ? AND k > ? ORDER BY k LIMIT ?` (keyset pages);
 * - documents: your `load(keys)` (joins, computed fields), or `SELECT * ... WHERE k IN (?)`
 *   mapped by `toDocument`.
 *
 * String keys are compared by the engine in byte order: give the column a binary collation
 * (`utf8mb4_bin`, `ascii_bin`) or keys whose order is the same under yours (digits, lower-case
 * hex). Another order costs extra requests, never a wrong repair (see `reconcile.ts`).
 */

import { SearchError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'
import { quoteIdentifier, rowsOf, type SqlExecutor } from '../sql.js'
import type {
  KeyRange,
  KeyVersion,
  LoadedDocument,
  RangeDigest,
  ReconcileKey,
  ReconcileSource,
} from './types.js'

/** Options of {@link sqlReconcileSource}. */
export type SqlReconcileSourceOptions<D, K extends ReconcileKey> = {
  /** The database (a mariadb/mysql2 pool or connection). */
  db: SqlExecutor
  /** Table name (letters, digits, `_`). */
  table: string
  /** Unique, indexed key column; the same value as the index's key field. @default 'id' */
  key?: string | undefined
  /** Version column (the external version the outbox writes). @default 'version' */
  version?: string | undefined
  /** `number` for integer keys (their sum joins the digest), `string` otherwise. @default 'number' */
  keyType?: (K extends number ? 'number' : 'string') | undefined
  /** Extra condition on the rows that belong in the index (SQL, no user input), e.g. `deleted_at IS NULL`. */
  where?: string | undefined
} & (
  | {
      /** The current documents of these keys, with the version each was read at. */
      load: (keys: readonly K[]) => Promise<LoadedDocument<D, K>[]>
    }
  | {
      /** Map a row of `SELECT * FROM table` to its document. */
      toDocument: (row: Record<string, unknown>) => D
    }
)

const KNOWN_SOURCE_OPTIONS: ReadonlySet<string> = new Set([
  'db',
  'table',
  'key',
  'version',
  'keyType',
  'where',
  'load',
  'toDocument',
])

/**
 * A {@link ReconcileSource} over a MariaDB/MySQL table whose key column holds strings
 * (`keyType: 'string'`): `load` is given string keys, without annotating them.
 *
 * @example
 * const source = sqlReconcileSource({
 *   db: pool, table: 'invoices', key: 'uuid', keyType: 'string',
 *   load: async (ids) => (await invoices.findMany(ids)).map((i) => ({ key: i.uuid, version: i.version, document: toDoc(i) })),
 * })
 */
export function sqlReconcileSource<D>(
  options: SqlReconcileSourceOptions<D, string> & { keyType: 'string' },
): ReconcileSource<D, string>
/**
 * A {@link ReconcileSource} over a MariaDB/MySQL table (integer keys unless `keyType: 'string'`).
 *
 * @example
 * const source = sqlReconcileSource({
 *   db: pool, table: 'invoices', key: 'id', version: 'version',
 *   load: async (ids) => (await invoices.findMany(ids)).map((i) => ({ key: i.id, version: i.version, document: toDoc(i) })),
 * })
 */
export function sqlReconcileSource<D, K extends ReconcileKey = number>(
  options: SqlReconcileSourceOptions<D, K>,
): ReconcileSource<D, K>
export function sqlReconcileSource<D, K extends ReconcileKey = number>(
  options: SqlReconcileSourceOptions<D, K>,
): ReconcileSource<D, K> {
  checkOptionKeys(options, KNOWN_SOURCE_OPTIONS, 'sqlReconcileSource')
  const { db } = options
  if (typeof db?.query !== 'function')
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'db must have a query(sql, params) method')
  const table = quoteIdentifier(options.table, 'table')
  const k = quoteIdentifier(options.key ?? 'id', 'key')
  const v = quoteIdentifier(options.version ?? 'version', 'version')
  const keyName = options.key ?? 'id'
  const versionName = options.version ?? 'version'
  const numeric = (options.keyType ?? 'number') === 'number'
  const extra = options.where ? ` AND (${options.where})` : ''
  const bounded = (range: KeyRange<K>, params: unknown[]): string => {
    let sql = ''
    if (range.gte !== undefined) {
      sql += ` AND ${k} >= ?`
      params.push(range.gte)
    }
    if (range.lt !== undefined) {
      sql += ` AND ${k} < ?`
      params.push(range.lt)
    }
    return sql
  }
  const load =
    'load' in options
      ? options.load
      : async (keys: readonly K[]): Promise<LoadedDocument<D, K>[]> => {
          if (keys.length === 0) return []
          const rows = rowsOf<Record<string, unknown>>(
            await db.query(`SELECT * FROM ${table} WHERE ${k} IN (?)${extra}`, [keys]),
          )
          return rows.map((row) => ({
            key: (numeric ? Number(row[keyName]) : String(row[keyName])) as K,
            version: Number(row[versionName]),
            document: options.toDocument(row),
          }))
        }
  if (typeof load !== 'function')
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'give load(keys) or toDocument(row)')
  return {
    async digest(ranges) {
      if (ranges.length === 0) return []
      const params: unknown[] = []
      let bucket = '0'
      if (ranges.length > 1) {
        bucket = 'CASE'
        for (let i = 0; i < ranges.length - 1; i++) {
          bucket += ` WHEN ${k} < ? THEN ${i}`
          params.push((ranges[i] as KeyRange<K>).lt)
        }
        bucket += ` ELSE ${ranges.length - 1} END`
      }
      const where = bounded(
        { gte: (ranges[0] as KeyRange<K>).gte, lt: (ranges[ranges.length - 1] as KeyRange<K>).lt },
        params,
      )
      const rows = rowsOf<{ b: number | string; c: number | string; vs: unknown; ks: unknown }>(
        await db.query(
          `SELECT ${bucket} AS b, COUNT(*) AS c, SUM(${v}) AS vs${numeric ? `, SUM(${k}) AS ks` : ''} FROM ${table} WHERE 1 = 1${where}${extra} GROUP BY b`,
          params,
        ),
      )
      const out: RangeDigest[] = ranges.map(() => ({
        count: 0,
        versionSum: 0,
        ...(numeric ? { keySum: 0 } : {}),
      }))
      for (const row of rows) {
        const digest = out[Number(row.b)]
        if (digest === undefined) continue
        digest.count = Number(row.c)
        digest.versionSum = Number(row.vs ?? 0)
        if (numeric) digest.keySum = Number(row.ks ?? 0)
      }
      return out
    },
    async bounds() {
      const [row] = rowsOf<{ lo: unknown; hi: unknown }>(
        await db.query(`SELECT MIN(${k}) AS lo, MAX(${k}) AS hi FROM ${table} WHERE 1 = 1${extra}`, []),
      )
      if (row?.lo === null || row?.lo === undefined || row.hi === null || row.hi === undefined)
        return undefined
      return numeric
        ? { min: Number(row.lo) as K, max: Number(row.hi) as K }
        : { min: String(row.lo) as K, max: String(row.hi) as K }
    },
    async versions(range, after, limit) {
      const params: unknown[] = []
      let where = bounded(range, params)
      if (after !== undefined) {
        where += ` AND ${k} > ?`
        params.push(after)
      }
      params.push(limit)
      const rows = rowsOf<{ k: unknown; v: unknown }>(
        await db.query(
          `SELECT ${k} AS k, ${v} AS v FROM ${table} WHERE 1 = 1${where}${extra} ORDER BY ${k} LIMIT ?`,
          params,
        ),
      )
      return rows.map(
        (row): KeyVersion<K> => ({
          key: (numeric ? Number(row.k) : String(row.k)) as K,
          version: Number(row.v),
        }),
      )
    },
    load,
  }
}
