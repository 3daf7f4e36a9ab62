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
 * 4. Repairs are race-safe against the outbox writing at the same time: missing and stale
 *    documents are loaded again and indexed through the bulk indexer with their version as an
 *    external version (an event applied meanwhile with a newer version wins: 409, skipped);
 *    an extra document is looked up again and deleted only if still absent, with the version the
 *    index holds plus one (a newer write landing in between wins). `ahead` ones are looked up
 *    again and only reported (an external version cannot go back; a database restored from an
 *    older backup is an operator's decision).
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
import { EventEmitter } from 'node:events'
import type { Client, estypes } from '@elastic/elasticsearch'
import { type Duration, toMs } from '../duration.js'
import { engineError } from '../engine/engine-error.js'
import type { SearchClient } from '../engine/search-client.js'
import { type BulkFailure, SearchError } from '../errors.js'
import type { DocOf } from '../query/types.js'
import type { IndexDefinition } from '../schema/define-index.js'
import type { FieldMap } from '../schema/fields.js'
import { applyIndexEvents } from '../sync/apply-index-events.js'
import type { OutboxEvent } from '../sync/outbox-event.js'

/** A key: an integer (numeric key fields) or a string (keyword key fields, byte order). */
export type ReconcileKey = number | string

/** A half-open key range `gte <= key < lt`; an absent bound is open. */
export interface KeyRange<K extends ReconcileKey = ReconcileKey> {
  /** Lowest key included; absent: no lower bound. */
  gte?: K | undefined
  /** First key excluded; absent: no upper bound. */
  lt?: K | undefined
}

/** Summary of the rows of one range. */
export interface RangeDigest {
  /** Rows in the range. */
  count: number
  /** Sum of their versions. */
  versionSum: number
  /** Sum of their keys (integer keys only; omit for string keys). */
  keySum?: number | undefined
}

/** A row's key and version. */
export interface KeyVersion<K extends ReconcileKey = ReconcileKey> {
  key: K
  version: number
}

/** A document to index, with its key and the version it was read at. */
export interface LoadedDocument<D, K extends ReconcileKey = ReconcileKey> extends KeyVersion<K> {
  document: D
}

/**
 * The database side of {@link reconcile}: the truth. {@link sqlReconcileSource} implements it
 * over a MariaDB/MySQL table with keyset queries.
 */
export interface ReconcileSource<D, K extends ReconcileKey = ReconcileKey> {
  /**
   * One digest per range. The ranges are consecutive (`ranges[i].lt === ranges[i + 1].gte`), so
   * one scan of their union with a `CASE` bucket answers them all.
   */
  digest(ranges: readonly KeyRange<K>[]): Promise<RangeDigest[]>
  /** Smallest and largest key, or `undefined` when the table is empty. */
  bounds(): Promise<{ min: K; max: K } | undefined>
  /** Up to `limit` rows of `range` with key greater than `after` (when given), in key order. */
  versions(range: KeyRange<K>, after: K | undefined, limit: number): Promise<KeyVersion<K>[]>
  /** The current documents of these keys; keys whose row does not exist are left out. */
  load(keys: readonly K[]): Promise<LoadedDocument<D, K>[]>
}

/** Options of {@link reconcile} and {@link createReconciler}. */
export interface ReconcileOptions<F extends FieldMap> {
  /** The search client. */
  search: SearchClient
  /** The index definition (its name is the index or read alias compared). */
  definition: IndexDefinition<F>
  /** The database side. */
  source: ReconcileSource<DocOf<F>, ReconcileKey>
  /** Index or alias to compare. @default definition.name */
  index?: string | undefined
  /** Index or alias repairs are written to (a versioned index's write alias). @default index */
  writeIndex?: string | undefined
  /**
   * Field holding the key the ranges are cut on: an `integer`/`long` field, or a `keyword` field
   * without normalizer (compared in byte order). It must be the same value as the source's key.
   * @default definition.id
   */
  key?: (keyof F & string) | undefined
  /**
   * A numeric field of the document holding the row's version (the same number as the external
   * version). Without it the version digest uses `_version` on Elasticsearch; on OpenSearch,
   * which cannot aggregate `_version`, every range is compared key by key (a full id scan).
   */
  versionField?: (keyof F & string) | undefined
  /** Sub-ranges per differing range. @default 16 */
  fanout?: number | undefined
  /** Largest range compared key by key instead of split further (rows). @default 2000 */
  leafSize?: number | undefined
  /** Report only: find the differences, repair nothing. @default false */
  dryRun?: boolean | undefined
  /** Refresh the index before comparing (so recent writes are seen). @default true */
  refresh?: boolean | undefined
  /** Documents loaded from the source per call during repair. @default 500 */
  loadBatchSize?: number | undefined
}

/** Defaults of {@link ReconcileOptions}. */
export const DEFAULT_RECONCILE_OPTIONS = Object.freeze({
  fanout: 16,
  leafSize: 2_000,
  dryRun: false,
  refresh: true,
  loadBatchSize: 500,
})

/** What one reconcile found and did. */
export interface ReconcileReport {
  /** Index compared. */
  index: string
  /** Whether the index existed when the run started. */
  indexExisted: boolean
  /** Rows in the database and documents in the index at the start. */
  counts: { database: number; index: number }
  /** Rows missing from the index. */
  missing: number
  /** Documents in the index whose row no longer exists. */
  extra: number
  /** Documents older than their row. */
  stale: number
  /** Documents newer than their row (reported, not repaired). */
  ahead: number
  /** `missing + extra + stale` found (before repair): the drift. */
  drift: number
  /**
   * Drift left after the repair, measured by a verifying dry run when something was repaired
   * (0: the index equals the database); equals `drift` in a dry run.
   */
  remaining: number
  /** What the repair did. */
  repaired: {
    /** Documents (re)indexed. */
    indexed: number
    /** Documents deleted. */
    deleted: number
    /** Repairs skipped because a newer write landed meanwhile, or the row changed again. */
    skipped: number
    /** Repairs the engine rejected. */
    failed: number
  }
  /** Rejected repairs with the engine's reason (at most 100). */
  failures: BulkFailure[]
  /** Ranges whose digests were compared. */
  ranges: number
  /** Ranges compared key by key. */
  leaves: number
  /** Calls made to the source and requests sent to the engine. */
  requests: { database: number; engine: number }
  /** How versions were digested: a document field, `_version`, or not at all (key-by-key scan). */
  versionDigest: 'field' | '_version' | 'none'
  /** Whether repairs were skipped on purpose. */
  dryRun: boolean
  /** Duration in ms. */
  durationMs: number
}

const MAX_FILTERS = 200
/** Rows of one key listing: adjacent leaves are listed together up to this. */
const MERGED_ROWS = 10_000
const MAX_FAILURES = 100

function positiveInt(name: string, value: number, min = 1): number {
  if (!Number.isInteger(value) || value < min)
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      `${name} must be an integer >= ${min}, got ${String(value)}`,
    )
  return value
}

interface Resolved<F extends FieldMap> {
  search: SearchClient
  definition: IndexDefinition<F>
  source: ReconcileSource<DocOf<F>, ReconcileKey>
  index: string
  writeIndex: string
  key: string
  numeric: boolean
  versionField: string | undefined
  fanout: number
  leafSize: number
  dryRun: boolean
  refresh: boolean
  loadBatchSize: number
}

const KNOWN_OPTIONS = new Set([
  'search',
  'definition',
  'source',
  'index',
  'writeIndex',
  'key',
  'versionField',
  'fanout',
  'leafSize',
  'dryRun',
  'refresh',
  'loadBatchSize',
  'interval',
  'onMissing',
])

function resolve<F extends FieldMap>(options: ReconcileOptions<F>): Readonly<Resolved<F>> {
  const unknown = Object.keys(options).filter((name) => !KNOWN_OPTIONS.has(name))
  if (unknown.length > 0)
    throw new SearchError('E_SEARCH_INVALID_OPTION', `Unknown reconcile option(s): ${unknown.join(', ')}`)
  const { search, definition, source } = options
  if (typeof search?.raw !== 'function')
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'search must be a SearchClient')
  if (typeof definition?.fieldDef !== 'function')
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'definition must be a defineIndex() definition')
  for (const method of ['digest', 'bounds', 'versions', 'load'] as const) {
    if (typeof source?.[method] !== 'function')
      throw new SearchError('E_SEARCH_INVALID_OPTION', `source.${method} must be a function`)
  }
  const key = options.key ?? definition.id
  const keyDef = definition.fieldDef(key)
  const numeric = keyDef.kind === 'integer' || keyDef.kind === 'long'
  const plainKeyword =
    (keyDef.kind === 'keyword' && keyDef.normalizer === 'none') || keyDef.kind === 'identifier'
  if (!numeric && !plainKeyword) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      `key field "${key}" must be integer, long or a keyword without normalizer (it is ${keyDef.kind})`,
      { index: definition.name, field: key },
    )
  }
  const versionField = options.versionField
  if (versionField !== undefined) {
    const kind = definition.fieldDef(versionField).kind
    if (kind !== 'integer' && kind !== 'long')
      throw new SearchError(
        'E_SEARCH_INVALID_OPTION',
        `versionField "${versionField}" must be integer or long`,
        {
          index: definition.name,
          field: versionField,
        },
      )
  }
  const d = DEFAULT_RECONCILE_OPTIONS
  const index = options.index ?? definition.name
  return Object.freeze({
    search,
    definition,
    source,
    index,
    writeIndex: options.writeIndex ?? index,
    key,
    numeric,
    versionField,
    fanout: positiveInt('fanout', options.fanout ?? d.fanout, 2),
    leafSize: positiveInt('leafSize', options.leafSize ?? d.leafSize),
    dryRun: options.dryRun ?? d.dryRun,
    refresh: options.refresh ?? d.refresh,
    loadBatchSize: positiveInt('loadBatchSize', options.loadBatchSize ?? d.loadBatchSize),
  })
}

const SAFE = Number.MAX_SAFE_INTEGER

/** Equal digests, trusted only where the sums are exact. */
function sameDigest(a: RangeDigest, b: RangeDigest, versions: boolean): boolean {
  if (a.count !== b.count) return false
  if (a.count === 0) return true
  if (versions) {
    if (!(Math.abs(a.versionSum) <= SAFE && Math.abs(b.versionSum) <= SAFE)) return false
    if (a.versionSum !== b.versionSum) return false
  } else return false
  if (a.keySum !== undefined && b.keySum !== undefined) {
    if (!(Math.abs(a.keySum) <= SAFE && Math.abs(b.keySum) <= SAFE)) return false
    if (a.keySum !== b.keySum) return false
  }
  return true
}

/** Split `range` into up to `parts` consecutive sub-ranges; one range back means "cannot split". */
export function splitRange(
  range: KeyRange,
  bounds: { min: ReconcileKey; max: ReconcileKey },
  parts: number,
): KeyRange[] {
  const points: ReconcileKey[] = []
  if (typeof bounds.min === 'number' && typeof bounds.max === 'number') {
    const lo = typeof range.gte === 'number' ? range.gte : bounds.min
    const hi = typeof range.lt === 'number' ? range.lt : bounds.max + 1
    const span = hi - lo
    const n = Math.min(parts, span)
    for (let i = 1; i < n; i++) {
      const point = lo + Math.floor((span * i) / n)
      if (point > lo && point < hi && point !== points.at(-1)) points.push(point)
    }
  } else {
    const lo = String(range.gte ?? bounds.min)
    const hi = range.lt === undefined ? `${String(bounds.max)}~` : String(range.lt)
    for (const point of interpolateStrings(lo, hi, parts)) {
      if (point > lo && point < hi && (points.length === 0 || point > (points.at(-1) as string)))
        points.push(point)
    }
  }
  if (points.length === 0) return [range]
  const out: KeyRange[] = []
  let gte = range.gte
  for (const point of points) {
    out.push({ gte, lt: point })
    gte = point
  }
  out.push({ gte, lt: range.lt })
  return out
}

const BASE = 95 // printable ASCII, 0x20..0x7e

/** Points between `lo` and `hi` (exclusive), as printable ASCII strings, evenly spaced. */
function interpolateStrings(lo: string, hi: string, parts: number): string[] {
  const length = Math.max(lo.length, hi.length) + 2
  const toBig = (s: string) => {
    let n = 0n
    for (let i = 0; i < length; i++) {
      const code = i < s.length ? s.charCodeAt(i) : 0x20
      n = n * BigInt(BASE) + BigInt(Math.min(Math.max(code, 0x20), 0x7e) - 0x20)
    }
    return n
  }
  const a = toBig(lo)
  const b = toBig(hi)
  if (b <= a + 1n) return []
  const out: string[] = []
  for (let i = 1; i < parts; i++) {
    let n = a + ((b - a) * BigInt(i)) / BigInt(parts)
    const chars: string[] = new Array(length)
    for (let j = length - 1; j >= 0; j--) {
      chars[j] = String.fromCharCode(Number(n % BigInt(BASE)) + 0x20)
      n /= BigInt(BASE)
    }
    out.push(chars.join('').replace(/ +$/, ''))
  }
  return out
}

interface Node {
  range: KeyRange
  db: RangeDigest
  es: RangeDigest
}

interface Diff {
  missing: ReconcileKey[]
  stale: ReconcileKey[]
  extra: Array<{ key: ReconcileKey; id: string; version: number }>
  ahead: Array<{ key: ReconcileKey; version: number }>
}

/** The engine side: digests, bounds and key listings of one index. */
class EngineSide {
  requests = 0
  readonly versionDigest: 'field' | '_version' | 'none'

  constructor(
    private readonly client: Client,
    private readonly o: Readonly<Resolved<FieldMap>>,
    engine: 'elasticsearch' | 'opensearch',
  ) {
    this.versionDigest = o.versionField ? 'field' : engine === 'elasticsearch' ? '_version' : 'none'
  }

  #query(range: KeyRange): estypes.QueryDslQueryContainer {
    if (range.gte === undefined && range.lt === undefined) return { match_all: {} }
    const bounds: Record<string, ReconcileKey> = {}
    if (range.gte !== undefined) bounds.gte = range.gte
    if (range.lt !== undefined) bounds.lt = range.lt
    return { range: { [this.o.key]: bounds } }
  }

  async #search(body: Record<string, unknown>): Promise<estypes.SearchResponse<unknown>> {
    this.requests++
    try {
      return await this.client.search({ index: this.o.index, ...(body as estypes.SearchRequest) })
    } catch (error) {
      throw engineError(error, this.o.index)
    }
  }

  async digest(ranges: readonly KeyRange[]): Promise<RangeDigest[]> {
    const out: RangeDigest[] = []
    const versionField = this.o.versionField ?? (this.versionDigest === '_version' ? '_version' : undefined)
    for (let start = 0; start < ranges.length; start += MAX_FILTERS) {
      const chunk = ranges.slice(start, start + MAX_FILTERS)
      const sub: Record<string, estypes.AggregationsAggregationContainer> = {}
      if (versionField) sub.v = { sum: { field: versionField } }
      if (this.o.numeric) sub.k = { sum: { field: this.o.key } }
      const response = await this.#search({
        size: 0,
        track_total_hits: false,
        aggs: { r: { filters: { filters: chunk.map((range) => this.#query(range)) }, aggs: sub } },
      })
      const buckets = (response.aggregations?.r as { buckets?: unknown } | undefined)?.buckets as
        | Array<{ doc_count: number; v?: { value: number | null }; k?: { value: number | null } }>
        | undefined
      if (!Array.isArray(buckets) || buckets.length !== chunk.length)
        throw new SearchError('E_SEARCH_ENGINE', 'The engine returned an unexpected filters aggregation', {
          index: this.o.index,
        })
      for (const bucket of buckets) {
        out.push({
          count: bucket.doc_count,
          versionSum: bucket.v?.value ?? 0,
          ...(this.o.numeric ? { keySum: bucket.k?.value ?? 0 } : {}),
        })
      }
    }
    return out
  }

  async bounds(): Promise<{ min: ReconcileKey; max: ReconcileKey } | undefined> {
    const key = this.o.key
    if (this.o.numeric) {
      const response = await this.#search({
        size: 0,
        track_total_hits: false,
        aggs: { min: { min: { field: key } }, max: { max: { field: key } } },
      })
      const aggs = response.aggregations as Record<string, { value: number | null }> | undefined
      const min = aggs?.min?.value
      const max = aggs?.max?.value
      return typeof min === 'number' && typeof max === 'number' ? { min, max } : undefined
    }
    const edge = async (order: 'asc' | 'desc') => {
      const response = await this.#search({
        size: 1,
        _source: false,
        track_total_hits: false,
        sort: [{ [key]: { order } }],
      })
      return response.hits.hits[0]?.sort?.[0] as string | undefined
    }
    const min = await edge('asc')
    const max = await edge('desc')
    return min === undefined || max === undefined ? undefined : { min, max }
  }

  /** Every `(key, _id, _version)` of `range`, in key order. */
  async list(range: KeyRange): Promise<Array<{ key: ReconcileKey; id: string; version: number }>> {
    const out: Array<{ key: ReconcileKey; id: string; version: number }> = []
    const size = 10_000
    let after: estypes.SortResults | undefined
    for (;;) {
      const response = await this.#search({
        size,
        _source: false,
        version: true,
        track_total_hits: false,
        query: this.#query(range),
        sort: [{ [this.o.key]: { order: 'asc' } }],
        ...(after ? { search_after: after } : {}),
      })
      const hits = response.hits.hits
      for (const hit of hits) {
        out.push({ key: hit.sort?.[0] as ReconcileKey, id: hit._id as string, version: hit._version ?? 0 })
      }
      if (hits.length < size) return out
      after = hits.at(-1)?.sort
    }
  }
}

/** Keep-count wrapper around the source. */
class SourceSide {
  requests = 0
  constructor(private readonly source: ReconcileSource<unknown, ReconcileKey>) {}

  async #call<T>(what: string, run: () => Promise<T>): Promise<T> {
    this.requests++
    try {
      return await run()
    } catch (error) {
      if (error instanceof SearchError) throw error
      throw new SearchError('E_SEARCH_RECONCILE', `Reconcile source ${what} failed: ${String(error)}`, {
        cause: error,
        retriable: true,
      })
    }
  }

  digest(ranges: readonly KeyRange[]) {
    return this.#call('digest', async () => {
      const digests = await this.source.digest(ranges)
      if (!Array.isArray(digests) || digests.length !== ranges.length)
        throw new SearchError(
          'E_SEARCH_RECONCILE',
          `source.digest returned ${digests?.length} digests for ${ranges.length} ranges`,
        )
      return digests.map((d) => ({
        count: Number(d.count),
        versionSum: Number(d.versionSum ?? 0),
        ...(d.keySum === undefined || d.keySum === null ? {} : { keySum: Number(d.keySum) }),
      }))
    })
  }

  bounds() {
    return this.#call('bounds', () => this.source.bounds())
  }

  async list(range: KeyRange, pageSize: number): Promise<KeyVersion[]> {
    const out: KeyVersion[] = []
    let after: ReconcileKey | undefined
    for (;;) {
      const page = await this.#call('versions', () => this.source.versions(range, after, pageSize))
      for (const row of page) out.push({ key: row.key, version: Number(row.version) })
      if (page.length < pageSize) return out
      after = page.at(-1)?.key
    }
  }

  load(keys: readonly ReconcileKey[]) {
    return this.#call('load', () => this.source.load(keys))
  }
}

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

async function indexExists(client: Client, index: string): Promise<boolean> {
  try {
    return await client.indices.exists({ index })
  } catch (error) {
    throw engineError(error, index)
  }
}

async function run<F extends FieldMap>(o: Readonly<Resolved<F>>): Promise<ReconcileReport> {
  const started = performance.now()
  const client = await o.search.raw()
  const engine = new EngineSide(client, o as unknown as Readonly<Resolved<FieldMap>>, await o.search.engine())
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
      const verify = await run({ ...o, dryRun: true })
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
    let frontier: Node[] = [{ range: top, db: dbTopDigest, es: esTopDigest }]
    let bounds: { min: ReconcileKey; max: ReconcileKey } | undefined
    while (frontier.length > 0) {
      const split: Node[] = []
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
            min: a.min < b.min ? a.min : b.min,
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
      const next: Node[] = []
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
  function leaf(node: Node) {
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

function recordFailure(report: ReconcileReport, failure: BulkFailure): void {
  report.repaired.failed++
  if (report.failures.length < MAX_FAILURES) report.failures.push(failure)
}

async function repair<F extends FieldMap>(
  o: Readonly<Resolved<F>>,
  db: SourceSide,
  engine: { requests: number },
  diff: Diff,
  report: ReconcileReport,
): Promise<void> {
  const toIndex = [...diff.missing, ...diff.stale]
  // Extra and ahead documents are looked up again: a row created (or updated) after its range
  // was listed is not deleted (or reported) by mistake.
  const recheck = [...diff.extra.map((d) => d.key), ...diff.ahead.map((d) => d.key)]
  const current = new Map<string, number>()
  for (let start = 0; start < recheck.length; start += o.loadBatchSize) {
    for (const doc of await db.load(recheck.slice(start, start + o.loadBatchSize)))
      current.set(String(doc.key), Number(doc.version))
  }
  const deletes: OutboxEvent[] = []
  for (const doc of diff.extra) {
    const now = current.get(String(doc.key))
    if (now === undefined)
      deletes.push({ op: 'delete', index: o.writeIndex, id: doc.id, version: doc.version + 1 })
    else if (now > doc.version) toIndex.push(doc.key)
    else report.repaired.skipped++
  }
  let ahead = 0
  for (const doc of diff.ahead) {
    const now = current.get(String(doc.key))
    if (now !== undefined && now > doc.version) toIndex.push(doc.key)
    else if (now !== undefined && now === doc.version) report.repaired.skipped++
    else ahead++
  }
  report.ahead = ahead
  if (toIndex.length > 0) {
    const versions = new Map<string, number>()
    const { definition, loadBatchSize } = o
    const loaded = async function* (): AsyncGenerator<DocOf<F>> {
      for (let start = 0; start < toIndex.length; start += loadBatchSize) {
        const docs = await db.load(toIndex.slice(start, start + loadBatchSize))
        for (const doc of docs) {
          versions.set(definition.idOf(doc.document as DocOf<F>), Number(doc.version))
          yield doc.document as DocOf<F>
        }
      }
    }
    const bulk = await o.search.bulk(definition, loaded(), {
      index: o.writeIndex,
      versionOf: (doc) => versions.get(definition.idOf(doc)) ?? 0,
      refresh: true,
    })
    // Bulk requests plus the indexer's final refresh.
    engine.requests += bulk.requests + 1
    report.repaired.indexed += bulk.indexed
    report.repaired.skipped += bulk.skipped + (toIndex.length - bulk.read)
    for (const failure of bulk.failures) recordFailure(report, failure)
  }
  for (let start = 0; start < deletes.length; start += 1_000) {
    const chunk = deletes.slice(start, start + 1_000)
    engine.requests++
    const results = await applyIndexEvents(o.search, chunk)
    for (const [i, result] of results.entries()) {
      if (result.status === 'applied') report.repaired.deleted++
      else if (result.status === 'stale') report.repaired.skipped++
      else
        recordFailure(report, {
          id: (chunk[i] as OutboxEvent).id,
          status: 0,
          type: result.status === 'retry' ? 'retry' : 'rejected',
          reason: result.error ?? result.status,
        })
    }
  }
  if (deletes.length > 0) {
    engine.requests++
    await o.search.refresh(o.writeIndex)
  }
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
  return run(resolve(options))
}

/** Options of {@link createReconciler}: one reconcile's options plus the schedule. */
export interface ReconcilerOptions<F extends FieldMap> extends ReconcileOptions<F> {
  /** Run every `interval` after {@link Reconciler.start} (ms or `'10m'`); absent: only on demand. */
  interval?: Duration | undefined
  /**
   * When the index does not exist: `backfill` creates it from the definition and indexes every
   * row; `report` only reports it (`state: 'missing'`, drift = the rows). @default 'backfill'
   */
  onMissing?: 'backfill' | 'report' | undefined
}

/** Figures of a {@link Reconciler} (the drift gauge is `drift`). */
export interface ReconcilerStats {
  /** Runs completed. */
  runs: number
  /** Runs that failed. */
  failedRuns: number
  /** Drift found by the last run (`missing + extra + stale`, before its repair), 0 before the first. */
  drift: number
  /** Drift left after the last run's repair. */
  remaining: number
  /** Documents found ahead of their row by the last run. */
  ahead: number
  /** Documents repaired since creation (indexed + deleted). */
  repaired: number
  /**
   * `ok`: after the last run the index equals the database (drift found was repaired);
   * `drift`: drift remains (a dry run, or repairs the engine rejected); `missing`: the index does
   * not exist (with `onMissing: 'report'`); `unknown`: no run yet, or the last one failed.
   */
  state: 'ok' | 'drift' | 'missing' | 'unknown'
  /** The last report. */
  last: ReconcileReport | undefined
  /** The last run's error, when it failed. */
  lastError: SearchError | undefined
  /** When the last run ended (ms since the epoch). */
  lastRunAt: number | undefined
}

/**
 * Runs {@link reconcile} for one index on demand or on a schedule, keeps the figures and emits
 * `reconciled` (every report), `drift` (a report with drift or a missing index) and `error`.
 * Runs never overlap: a run asked for while one is in progress joins it.
 */
export class Reconciler<F extends FieldMap> extends EventEmitter<{
  reconciled: [ReconcileReport]
  drift: [ReconcileReport]
  error: [SearchError]
}> {
  readonly #options: Readonly<Resolved<F>>
  readonly #intervalMs: number | undefined
  readonly #onMissing: 'backfill' | 'report'
  readonly #stats: ReconcilerStats = {
    runs: 0,
    failedRuns: 0,
    drift: 0,
    remaining: 0,
    ahead: 0,
    repaired: 0,
    state: 'unknown',
    last: undefined,
    lastError: undefined,
    lastRunAt: undefined,
  }
  #running: Promise<ReconcileReport> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(options: ReconcilerOptions<F>) {
    super()
    this.#options = resolve(options)
    this.#intervalMs = options.interval === undefined ? undefined : toMs(options.interval, 'interval')
    if (this.#intervalMs !== undefined && this.#intervalMs < 1)
      throw new SearchError('E_SEARCH_INVALID_OPTION', 'interval must be at least 1 ms')
    const onMissing = options.onMissing ?? 'backfill'
    if (onMissing !== 'backfill' && onMissing !== 'report')
      throw new SearchError('E_SEARCH_INVALID_OPTION', `onMissing must be 'backfill' or 'report'`)
    this.#onMissing = onMissing
  }

  /** The index compared. */
  get index(): string {
    return this.#options.index
  }

  /** Current figures. */
  stats(): Readonly<ReconcilerStats> {
    return { ...this.#stats }
  }

  /** Run once now (or join the run in progress). */
  run(): Promise<ReconcileReport> {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined
    })
    return this.#running
  }

  async #run(): Promise<ReconcileReport> {
    const stats = this.#stats
    try {
      let options = this.#options
      if (this.#onMissing === 'report') {
        const client = await options.search.raw()
        if (!(await indexExists(client, options.index))) options = Object.freeze({ ...options, dryRun: true })
      }
      const report = await run(options)
      stats.runs++
      stats.drift = report.drift
      stats.remaining = report.remaining
      stats.ahead = report.ahead
      stats.repaired += report.repaired.indexed + report.repaired.deleted
      stats.state = !report.indexExisted && options.dryRun ? 'missing' : report.remaining > 0 ? 'drift' : 'ok'
      stats.last = report
      stats.lastError = undefined
      stats.lastRunAt = Date.now()
      this.emit('reconciled', report)
      if (report.drift > 0 || !report.indexExisted) this.emit('drift', report)
      return report
    } catch (error) {
      const wrapped =
        error instanceof SearchError
          ? error
          : new SearchError('E_SEARCH_RECONCILE', `Reconcile failed: ${String(error)}`, { cause: error })
      stats.failedRuns++
      stats.state = 'unknown'
      stats.lastError = wrapped
      stats.lastRunAt = Date.now()
      if (this.listenerCount('error') > 0) this.emit('error', wrapped)
      throw wrapped
    }
  }

  /** Run every `interval` (the first run after one interval) until {@link stop}. Failures are emitted as `error`. */
  start(): void {
    if (this.#timer !== undefined || this.#intervalMs === undefined) return
    this.#timer = setInterval(() => {
      this.run().catch(() => {
        // Counted in stats().failedRuns and emitted as `error` by #run.
      })
    }, this.#intervalMs)
    this.#timer.unref()
  }

  /** Stop the schedule and wait for a run in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    await this.#running?.catch(() => undefined)
  }
}

/** Create the index from its definition when it does not exist (a concurrent creation is fine). @returns whether it was created */
export async function ensureIndexExists<F extends FieldMap>(
  search: SearchClient,
  definition: IndexDefinition<F>,
  index: string,
): Promise<boolean> {
  const client = await search.raw()
  if (await indexExists(client, index)) return false
  try {
    await search.createIndex(definition, { name: index })
    return true
  } catch (error) {
    const type = (error as { cause?: { body?: { error?: { type?: string } } } }).cause?.body?.error?.type
    if (type === 'resource_already_exists_exception') return false
    throw error
  }
}

/** A reconciler for one index (see {@link Reconciler}). */
export function createReconciler<F extends FieldMap>(options: ReconcilerOptions<F>): Reconciler<F> {
  return new Reconciler(options)
}
