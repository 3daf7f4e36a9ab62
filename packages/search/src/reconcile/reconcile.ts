/**
 * Index drift: compare an index with the database and repair the differences.
 *
 * Mechanism (a Merkle-style descent over key ranges, two requests when nothing differs):
 * 1. Both sides summarize the whole key space: row count, sum of versions and (numeric keys) sum
 *    of keys. The database side is the user's {@link ReconcileSource} (one `GROUP BY` query in
 *    {@link sqlReconcileSource}); the engine side is one `filters` aggregation with `sum`
 *    sub-aggregations over the version field (a numeric field of the document, or `_version` on
 *    Elasticsearch, where it is aggregatable) and the key field. Equal figures: done.
 * 2. A range whose figures differ is split into `fanout` sub-ranges (integer keys: equal widths;
 *    string keys: interpolated split points, byte order); the sub-ranges of every differing range
 *    of one level are summarized together (one engine request per 200 ranges, one database call
 *    per parent range), and only differing ones are descended into.
 * 3. A range with at most `leafSize` rows on either side, or one side empty, is a leaf: both
 *    sides list `(key, version)` in it and the lists are compared exactly: missing (in SQL, not in
 *    the index), extra (in the index, deleted in SQL), stale (older version in the index), ahead
 *    (newer in the index than in SQL).
 * 4. Repairs (`repair.ts`) are race-safe against the outbox writing at the same time: every
 *    repair is checked again against the source, written with external versions, and a newer
 *    write landing meanwhile wins. A run that repaired something ends with a verifying dry run,
 *    whose drift is the report's `remaining`.
 *
 * The parts: `options.ts` (resolution), `engine-side.ts` and `source-side.ts` (the two sides,
 * requests counted), `ranges.ts` (splitting, digest comparison), `repair.ts`, `index-exists.ts`;
 * `reconciler.ts` schedules runs.
 *
 * A digest sum is trusted only while it is exact in a double (at most 2^53): larger sums (ms
 * timestamps as versions over big ranges) make the range descend, never look equal by rounding.
 * Figures that compensate exactly (one row deleted and another created in the same range with
 * the same version and, for integer keys, the same key sum) look equal: the descent then misses
 * them. Versions that grow with every write (a counter or an update timestamp) make that rare.
 * Range bounds that the two sides order differently (a case-insensitive SQL collation against
 * the engine's byte order) cost extra requests, never a wrong repair: every repair is checked
 * again against the source before it is written.
 */
import { engineError } from '../engine/engine-error.js'
import { SearchError } from '../errors.js'
import type { FieldMap } from '../schema/fields.js'
import { EngineSide } from './engine-side.js'
import { ensureIndexExists, indexExists } from './index-exists.js'
import { type ReconcileOptions, type ResolvedReconcileOptions, resolveReconcileOptions } from './options.js'
import { sameDigest, splitRange } from './ranges.js'
import { repair } from './repair.js'
import { SourceSide } from './source-side.js'
import type {
  Diff,
  KeyRange,
  KeyVersion,
  RangeDigest,
  RangeNode,
  ReconcileKey,
  ReconcileReport,
  ReconcileSource,
} from './types.js'

/** Rows of one key listing: adjacent leaves are listed together up to this. */
const MERGED_ROWS = 10_000

/** Compare two key listings of one range. */
function compareLeaf(
  db: readonly KeyVersion[],
  es: ReadonlyArray<{ key: ReconcileKey; id: string; version: number }>,
  diff: Diff,
): void {
  const indexed = new Map<string, { key: ReconcileKey; id: string; version: number }>()
  for (const doc of es) indexed.set(String(doc.key), doc)
  for (const row of db) {
    const doc = indexed.get(String(row.key))
    if (doc === undefined) diff.missing.push(row.key)
    else {
      indexed.delete(String(row.key))
      if (doc.version < row.version) diff.stale.push(row.key)
      else if (doc.version > row.version) diff.ahead.push({ key: row.key, version: doc.version })
    }
  }
  for (const doc of indexed.values()) diff.extra.push(doc)
}

/** One run with resolved options (the reconciler runs it too, with its own options). */
export async function runReconcile<F extends FieldMap>(
  o: Readonly<ResolvedReconcileOptions<F>>,
): Promise<ReconcileReport> {
  const started = performance.now()
  const client = await o.search.raw()
  const engine = new EngineSide(
    client,
    o as unknown as Readonly<ResolvedReconcileOptions<FieldMap>>,
    await o.search.engine(),
  )
  const db = new SourceSide(o.source as ReconcileSource<unknown, ReconcileKey>)
  const report: ReconcileReport = {
    index: o.index,
    indexExisted: true,
    counts: { database: 0, index: 0 },
    missing: 0,
    extra: 0,
    stale: 0,
    ahead: 0,
    drift: 0,
    remaining: 0,
    repaired: { indexed: 0, deleted: 0, skipped: 0, failed: 0 },
    failures: [],
    ranges: 0,
    leaves: 0,
    requests: { database: 0, engine: 0 },
    versionDigest: engine.versionDigest,
    dryRun: o.dryRun,
    durationMs: 0,
  }
  const finish = async () => {
    report.drift = report.missing + report.extra + report.stale
    report.remaining = report.drift
    report.requests = { database: db.requests, engine: engine.requests }
    if (!o.dryRun && report.drift > 0) {
      const verify = await runReconcile({ ...o, dryRun: true })
      report.remaining = verify.drift
      report.requests.database += verify.requests.database
      report.requests.engine += verify.requests.engine
    }
    report.durationMs = performance.now() - started
    return report
  }
  const diff: Diff = { missing: [], stale: [], extra: [], ahead: [] }
  const queued: Array<{ range: KeyRange; rows: number }> = []
  engine.requests++
  report.indexExisted = await indexExists(client, o.index)
  // A lost index is recreated from its definition (not left to a write's dynamic mapping).
  if (!report.indexExisted && !o.dryRun) await ensureIndexExists(o.search, o.definition, o.index)
  const versions = engine.versionDigest !== 'none'
  const top: KeyRange = {}
  const [dbTop] = await db.digest([top])
  const dbTopDigest = dbTop as RangeDigest
  report.counts.database = dbTopDigest.count
  if (!report.indexExisted) {
    // Nothing to compare against: every row is missing.
    const rows = await db.list(top, MERGED_ROWS)
    report.leaves = 1
    for (const row of rows) diff.missing.push(row.key)
  } else {
    if (o.refresh) {
      engine.requests++
      try {
        await client.indices.refresh({ index: o.index })
      } catch (error) {
        throw engineError(error, o.index)
      }
    }
    const [esTop] = await engine.digest([top])
    const esTopDigest = esTop as RangeDigest
    report.counts.index = esTopDigest.count
    report.ranges = 1
    let frontier: RangeNode[] = [{ range: top, db: dbTopDigest, es: esTopDigest }]
    let bounds: { min: ReconcileKey; max: ReconcileKey } | undefined
    while (frontier.length > 0) {
      const split: RangeNode[] = []
      for (const node of frontier) {
        if (sameDigest(node.db, node.es, versions)) continue
        const small = Math.max(node.db.count, node.es.count) <= o.leafSize
        if (small || node.db.count === 0 || node.es.count === 0) {
          leaf(node)
          continue
        }
        split.push(node)
      }
      await listLeaves()
      if (split.length === 0) break
      if (bounds === undefined) {
        const a = await db.bounds()
        if (a !== undefined && typeof a.min !== (o.numeric ? 'number' : 'string')) {
          // Numeric SQL keys against a keyword field (or the reverse) order differently: every
          // range would differ. Cut ranges on a field of the same kind as the source's key.
          throw new SearchError(
            'E_SEARCH_INVALID_OPTION',
            `reconcile key field "${o.key}" is ${o.numeric ? 'numeric' : 'a keyword'} but the source's keys are ${typeof a.min}s: give the index a ${typeof a.min === 'number' ? 'long' : 'keyword'} field holding the key and pass it as \`key\``,
            { index: o.index, field: o.key },
          )
        }
        const b = await engine.bounds()
        if (a === undefined || b === undefined) bounds = a ?? b
        else
          bounds = {
            // Keys are numbers or strings (keyword keys): Math.min would turn strings into NaN.
            // biome-ignore lint/complexity/useMathMinMax: string keys compare lexicographically
            min: a.min < b.min ? a.min : b.min,
            // biome-ignore lint/complexity/useMathMinMax: string keys compare lexicographically
            max: a.max > b.max ? a.max : b.max,
          }
        if (bounds === undefined) break
      }
      const children: KeyRange[] = []
      const groups: KeyRange[][] = []
      for (const node of split) {
        const parts = splitRange(node.range, bounds, o.fanout)
        if (parts.length === 1) {
          leaf(node)
          continue
        }
        groups.push(parts)
        children.push(...parts)
      }
      await listLeaves()
      if (children.length === 0) break
      const esDigests = await engine.digest(children)
      const next: RangeNode[] = []
      let at = 0
      for (const group of groups) {
        const dbDigests = await db.digest(group)
        for (const [i, range] of group.entries()) {
          next.push({ range, db: dbDigests[i] as RangeDigest, es: esDigests[at + i] as RangeDigest })
        }
        at += group.length
      }
      report.ranges += children.length
      frontier = next
    }
    await listLeaves()
  }
  function leaf(node: RangeNode) {
    report.leaves++
    queued.push({ range: node.range, rows: Math.max(node.db.count, node.es.count) })
  }
  /** List the queued leaves, adjacent ones merged into listings of up to MERGED_ROWS rows. */
  async function listLeaves() {
    const merged: Array<{ range: KeyRange; rows: number }> = []
    for (const item of queued) {
      const last = merged.at(-1)
      if (
        last !== undefined &&
        last.range.lt !== undefined &&
        last.range.lt === item.range.gte &&
        last.rows + item.rows <= MERGED_ROWS
      ) {
        last.range = { gte: last.range.gte, lt: item.range.lt }
        last.rows += item.rows
      } else merged.push({ range: { ...item.range }, rows: item.rows })
    }
    queued.length = 0
    for (const { range } of merged) {
      const [rows, docs] = [await db.list(range, MERGED_ROWS), await engine.list(range)]
      compareLeaf(rows, docs, diff)
    }
  }
  report.missing = diff.missing.length
  report.stale = diff.stale.length
  report.extra = diff.extra.length
  report.ahead = diff.ahead.length
  if (!o.dryRun) await repair(o, db, engine, diff, report)
  return finish()
}

/**
 * Compare an index with the database and repair the differences (see the module header for the
 * mechanism). Returns what was found and repaired; with `dryRun` only what was found.
 *
 * @throws SearchError `E_SEARCH_ENGINE` when the engine fails, `E_SEARCH_RECONCILE` when the
 *   source fails (both retriable: nothing half-done is left that a next run does not finish)
 *
 * @example
 * const report = await reconcile({ search, definition: invoices, source: sqlReconcileSource({ ... }) })
 * // { missing: 0, extra: 0, stale: 0, drift: 0, requests: { database: 1, engine: 3 }, ... }
 */
export async function reconcile<F extends FieldMap>(options: ReconcileOptions<F>): Promise<ReconcileReport> {
  return runReconcile(resolveReconcileOptions(options))
}
