/**
 * The engine adapter. One official `@elastic/elasticsearch` Client per search client; for
 * OpenSearch it is built with a Transport subclass that drops the product check (OpenSearch does
 * not send `x-elastic-product`) and sends plain `application/json` instead of the
 * `compatible-with=9` vendored media types (which OpenSearch answers with 406). Every other
 * difference the package depends on is routed through {@link EngineAdapter}: the point-in-time
 * endpoints (`POST /<index>/_pit` vs `POST /<index>/_search/point_in_time`) and their close calls.
 * With `engine: 'auto'` the root endpoint is read once (`version.distribution === 'opensearch'`)
 * before the first request.
 *
 * Every search goes through `#timed`, which feeds the latency histogram and emits a
 * `slow-query` event with the query's fingerprint when a search takes longer than the threshold
 * (only when someone listens).
 */
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import {
  Client,
  type ClientOptions,
  type estypes,
  Transport,
  type TransportOptions,
} from '@elastic/elasticsearch'
import { type BulkOptions, type BulkReport, bulkIndex } from '../bulk/bulk-indexer.js'
import { type Duration, toEngineTime, toMs } from '../duration.js'
import { engineError, SearchError } from '../errors.js'
import { queryFingerprint, queryShape } from '../observability/fingerprint.js'
import { LatencyHistogram, type LatencySnapshot } from '../observability/latency-histogram.js'
import { decodeCursor, encodeCursor } from '../query/cursor.js'
import type {
  AggMap,
  DocOf,
  Hit,
  Page,
  PageRequest,
  SearchRequest,
  SearchResult,
  SortSpec,
} from '../query/types.js'
import type { CompletionFields, IndexDefinition, Query } from '../schema/define-index.js'
import { TERM_KINDS } from '../schema/define-index.js'
import type { FieldMap } from '../schema/fields.js'

/** Which engine a client talks to. */
export type EngineKind = 'elasticsearch' | 'opensearch'

/** Options of {@link createSearchClient}. */
export interface SearchClientOptions {
  /** Engine URL(s), e.g. `http://127.0.0.1:9200`. */
  node: string | string[]
  /** Engine flavour; `auto` reads `GET /` once before the first request. @default 'auto' */
  engine?: EngineKind | 'auto' | undefined
  /** Per-request timeout (ms or `'30s'`). @default '30s' */
  requestTimeout?: Duration | undefined
  /** Transport-level retries of connection errors and 502-504. @default 3 */
  maxRetries?: number | undefined
  /** A search slower than this emits a `slow-query` event (ms or `'500ms'`). @default '500ms' */
  slowQueryThreshold?: Duration | undefined
  /** Extra options for the official client (auth, TLS, compression...). `node`/`Transport` are set by this package. */
  clientOptions?: Omit<ClientOptions, 'node' | 'nodes' | 'Transport'> | undefined
}

/** Defaults of {@link SearchClientOptions}. */
export const DEFAULT_SEARCH_CLIENT_OPTIONS = Object.freeze({
  engine: 'auto' as EngineKind | 'auto',
  requestTimeout: '30s' as Duration,
  maxRetries: 3,
  slowQueryThreshold: '500ms' as Duration,
})

/** Resolved, frozen options of a search client. */
export interface ResolvedSearchClientOptions {
  readonly nodes: readonly string[]
  readonly engine: EngineKind | 'auto'
  readonly requestTimeoutMs: number
  readonly maxRetries: number
  readonly slowQueryMs: number
  readonly clientOptions: Omit<ClientOptions, 'node' | 'nodes' | 'Transport'>
}

/** Payload of the `slow-query` event. */
export interface SlowQueryEvent {
  /** Index or alias searched. */
  index: string
  /** Client-side latency in ms. */
  durationMs: number
  /** Hash of the query shape without values. */
  fingerprint: string
  /** The request body (with values), for debugging; do not log it blindly. */
  body: unknown
}

/** Cumulative bulk figures of a client (see {@link SearchClient.bulkStats}). */
export interface BulkStats {
  /** Bulk loads run. */
  loads: number
  /** Documents accepted. */
  indexed: number
  /** Documents rejected. */
  failed: number
  /** Retries (requests and items). */
  retries: number
  /** Bulk requests sent. */
  requests: number
  /** NDJSON bytes sent. */
  bytes: number
}

/** Result of {@link SearchClient.health}. */
export interface HealthReport {
  /** `true` when the cluster answered and is green or yellow. */
  ok: boolean
  /** Engine flavour. */
  engine: EngineKind
  /** Cluster status, or `unreachable`. */
  status: 'green' | 'yellow' | 'red' | 'unreachable'
  /** Round-trip of the health call in ms. */
  latencyMs: number
  /** Search latency figures since start (or the last reset). */
  searchLatency: LatencySnapshot
  /** The error, when unreachable. */
  error?: SearchError | undefined
}

/**
 * Transport for OpenSearch: no product check, plain JSON media types. Not an official setting of
 * the Elastic client, hence isolated here.
 */
export class OpenSearchTransport extends Transport {
  constructor(options: TransportOptions) {
    const { productCheck: _ignored, ...rest } = options
    super({
      ...rest,
      vendoredHeaders: {
        jsonContentType: 'application/json',
        ndjsonContentType: 'application/x-ndjson',
        accept: 'application/json, text/plain',
      },
    })
  }
}

/** Engine-specific calls. */
export interface EngineAdapter {
  /** Engine flavour. */
  readonly kind: EngineKind
  /** Open a point in time; returns its id. */
  openPit(client: Client, index: string, keepAlive: string): Promise<string>
  /** Close a point in time. */
  closePit(client: Client, id: string): Promise<void>
}

const elasticsearchAdapter: EngineAdapter = {
  kind: 'elasticsearch',
  async openPit(client, index, keepAlive) {
    const response = await client.openPointInTime({ index, keep_alive: keepAlive })
    return response.id
  },
  async closePit(client, id) {
    await client.closePointInTime({ id })
  },
}

const opensearchAdapter: EngineAdapter = {
  kind: 'opensearch',
  async openPit(client, index, keepAlive) {
    const response = (await client.transport.request({
      method: 'POST',
      path: `/${encodeURIComponent(index)}/_search/point_in_time`,
      querystring: { keep_alive: keepAlive },
    })) as { pit_id?: string }
    if (!response.pit_id) throw new SearchError('E_SEARCH_ENGINE', 'OpenSearch returned no pit_id', { index })
    return response.pit_id
  },
  async closePit(client, id) {
    await client.transport.request({
      method: 'DELETE',
      path: '/_search/point_in_time',
      body: { pit_id: [id] },
    })
  },
}

/** Validate options into a frozen resolved object. */
export function resolveSearchClientOptions(options: SearchClientOptions): ResolvedSearchClientOptions {
  const nodes = Array.isArray(options.node) ? options.node : [options.node]
  if (nodes.length === 0 || !nodes.every((n) => typeof n === 'string' && /^https?:\/\//.test(n))) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `node must be an http(s) URL or a list of them`)
  }
  const engine = options.engine ?? DEFAULT_SEARCH_CLIENT_OPTIONS.engine
  if (!['auto', 'elasticsearch', 'opensearch'].includes(engine)) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `engine must be 'elasticsearch', 'opensearch' or 'auto'`)
  }
  const maxRetries = options.maxRetries ?? DEFAULT_SEARCH_CLIENT_OPTIONS.maxRetries
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `maxRetries must be a non-negative integer`)
  }
  return Object.freeze({
    nodes: Object.freeze([...nodes]),
    engine,
    requestTimeoutMs: toMs(
      options.requestTimeout ?? DEFAULT_SEARCH_CLIENT_OPTIONS.requestTimeout,
      'requestTimeout',
    ),
    maxRetries,
    slowQueryMs: toMs(
      options.slowQueryThreshold ?? DEFAULT_SEARCH_CLIENT_OPTIONS.slowQueryThreshold,
      'slowQueryThreshold',
    ),
    clientOptions: options.clientOptions ?? {},
  })
}

function buildClient(options: ResolvedSearchClientOptions, engine: EngineKind): Client {
  return new Client({
    ...options.clientOptions,
    nodes: [...options.nodes],
    requestTimeout: options.requestTimeoutMs,
    maxRetries: options.maxRetries,
    ...(engine === 'opensearch' ? { Transport: OpenSearchTransport } : {}),
  })
}

function asList<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return []
  return Array.isArray(value) ? [...(value as T[])] : [value as T]
}

interface Connection {
  client: Client
  adapter: EngineAdapter
}

/**
 * A search client over one engine. Create with {@link createSearchClient}.
 *
 * Events: `slow-query` ({@link SlowQueryEvent}).
 */
export class SearchClient extends EventEmitter<{ 'slow-query': [SlowQueryEvent] }> {
  /** Resolved options. */
  readonly options: ResolvedSearchClientOptions
  readonly #latency = new LatencyHistogram()
  readonly #bulk: BulkStats = { loads: 0, indexed: 0, failed: 0, retries: 0, requests: 0, bytes: 0 }
  #connection: Promise<Connection> | undefined
  #client: Client | undefined

  constructor(options: SearchClientOptions) {
    super()
    this.options = resolveSearchClientOptions(options)
    if (this.options.engine !== 'auto') {
      const kind = this.options.engine
      this.#client = buildClient(this.options, kind)
      this.#connection = Promise.resolve({
        client: this.#client,
        adapter: kind === 'opensearch' ? opensearchAdapter : elasticsearchAdapter,
      })
    }
  }

  #connect(): Promise<Connection> {
    if (!this.#connection) {
      const attempt = this.#detect()
      this.#connection = attempt
      // A failed detection is retried at the next call instead of being cached forever.
      attempt.catch(() => {
        if (this.#connection === attempt) this.#connection = undefined
      })
    }
    return this.#connection
  }

  async #detect(): Promise<Connection> {
    // Plain-JSON transport without product check can read the root endpoint of both engines.
    const probe = buildClient(this.options, 'opensearch')
    try {
      const info = (await probe.transport.request({ method: 'GET', path: '/' })) as {
        version?: { distribution?: string }
      }
      const kind: EngineKind = info.version?.distribution === 'opensearch' ? 'opensearch' : 'elasticsearch'
      this.#client = buildClient(this.options, kind)
      return {
        client: this.#client,
        adapter: kind === 'opensearch' ? opensearchAdapter : elasticsearchAdapter,
      }
    } catch (error) {
      throw engineError(error)
    } finally {
      await probe.close()
    }
  }

  /** The engine flavour (detected once with `engine: 'auto'`). */
  async engine(): Promise<EngineKind> {
    return (await this.#connect()).adapter.kind
  }

  /** The underlying official client, for calls this package does not wrap. */
  async raw(): Promise<Client> {
    return (await this.#connect()).client
  }

  /** Create the index of a definition (settings + mappings), optionally under another name and with aliases. */
  async createIndex<F extends FieldMap>(
    definition: IndexDefinition<F>,
    options: { name?: string | undefined; aliases?: Record<string, estypes.IndicesAlias> | undefined } = {},
  ): Promise<void> {
    const { client } = await this.#connect()
    const index = options.name ?? definition.name
    try {
      await client.indices.create({
        index,
        settings: definition.settings,
        mappings: definition.mappings,
        ...(options.aliases ? { aliases: options.aliases } : {}),
      })
    } catch (error) {
      throw engineError(error, index)
    }
  }

  /** Delete indices (missing ones are ignored). */
  async deleteIndex(index: string | string[]): Promise<void> {
    const { client } = await this.#connect()
    try {
      await client.indices.delete({ index, ignore_unavailable: true })
    } catch (error) {
      throw engineError(error, String(index))
    }
  }

  /** Make recent writes searchable. */
  async refresh(index: string): Promise<void> {
    const { client } = await this.#connect()
    try {
      await client.indices.refresh({ index })
    } catch (error) {
      throw engineError(error, index)
    }
  }

  /** Open a point in time on an index. @returns its id */
  async openPit(index: string, keepAlive: Duration = '1m'): Promise<string> {
    const { client, adapter } = await this.#connect()
    try {
      return await adapter.openPit(client, index, toEngineTime(keepAlive, 'keepAlive'))
    } catch (error) {
      throw engineError(error, index)
    }
  }

  /** Close a point in time. */
  async closePit(id: string): Promise<void> {
    const { client, adapter } = await this.#connect()
    try {
      await adapter.closePit(client, id)
    } catch (error) {
      throw engineError(error)
    }
  }

  async #timed<T>(
    index: string,
    body: Record<string, unknown>,
    run: (client: Client) => Promise<T>,
  ): Promise<T> {
    const { client } = await this.#connect()
    const started = performance.now()
    try {
      return await run(client)
    } catch (error) {
      throw engineError(error, index)
    } finally {
      const durationMs = performance.now() - started
      this.#latency.record(durationMs)
      if (durationMs >= this.options.slowQueryMs && this.listenerCount('slow-query') > 0) {
        this.emit('slow-query', { index, durationMs, fingerprint: queryFingerprint(body), body })
      }
    }
  }

  #body<F extends FieldMap>(
    definition: IndexDefinition<F>,
    request: SearchRequest<F, AggMap<F>>,
    tiebreak: boolean,
  ): Record<string, unknown> {
    const filters = asList(request.filter)
    const query: Query | undefined =
      filters.length > 0
        ? { bool: { ...(request.query ? { must: [request.query] } : {}), filter: filters } }
        : request.query
    const body: Record<string, unknown> = {}
    if (query) body.query = query
    const sort = sortClause(definition, request.sort, tiebreak)
    if (sort) body.sort = sort
    if (request.size !== undefined) body.size = checkCount(definition, 'size', request.size)
    if (request.from !== undefined) body.from = checkCount(definition, 'from', request.from)
    if (request.trackTotalHits !== undefined) body.track_total_hits = request.trackTotalHits
    if (request.highlight) body.highlight = highlightClause(definition, request.highlight)
    if (request.aggs) {
      checkAggs(definition, request.aggs)
      body.aggs = request.aggs
    }
    return body
  }

  /**
   * Typed search: hits are `DocumentOf<definition>`, aggregation results are typed from `aggs`.
   *
   * @throws SearchError `E_SEARCH_UNKNOWN_FIELD` / `E_SEARCH_FIELD_KIND` for bad sort, highlight or aggregation fields
   * @throws SearchError `E_SEARCH_ENGINE` when the engine fails
   */
  async search<F extends FieldMap, const A extends AggMap<F> = Record<never, never>>(
    definition: IndexDefinition<F>,
    request: SearchRequest<F, A> = {},
  ): Promise<SearchResult<DocOf<F>, A>> {
    const index = request.index ?? definition.name
    const body = this.#body(definition, request as SearchRequest<F, AggMap<F>>, false)
    const response = await this.#timed(index, body, (client) =>
      client.search<DocOf<F>>({ index, ...(body as estypes.SearchRequest) }),
    )
    return toResult<DocOf<F>, A>(response)
  }

  /**
   * One page of deep pagination: the first call (no cursor) opens a point in time, each page
   * continues with `search_after` from the cursor, and the last page closes the PIT and returns
   * `nextCursor: null`. Pages never overlap nor skip documents, whatever is written meanwhile.
   *
   * @throws SearchError `E_SEARCH_INVALID_CURSOR` for a malformed cursor
   */
  async searchPage<F extends FieldMap>(
    definition: IndexDefinition<F>,
    request: PageRequest<F> = {},
  ): Promise<Page<DocOf<F>>> {
    const size = checkCount(definition, 'size', request.size ?? 100)
    if (size === 0) throw new SearchError('E_SEARCH_INVALID_VALUE', 'Page size must be at least 1')
    let pit: string
    let after: unknown[] | undefined
    let keepAliveMs: number
    const index = request.index ?? definition.name
    // A cursor continues only the request it was issued for: another sort or index would make its
    // search_after values meaningless (or rejected by the engine).
    const body = this.#body(definition, { ...request, size, trackTotalHits: false }, true)
    const shape = createHash('sha1')
      .update(`${index}\n${JSON.stringify(body.sort)}\n${queryShape(body.query)}`)
      .digest('base64url')
      .slice(0, 16)
    if (request.cursor !== undefined) {
      const state = decodeCursor(request.cursor)
      if (state.shape !== shape || state.index !== index) {
        throw new SearchError(
          'E_SEARCH_INVALID_CURSOR',
          'Pagination cursor was issued for a different index, query shape or sort',
          { index },
        )
      }
      pit = state.pit
      after = state.after
      keepAliveMs = state.keepAliveMs
    } else {
      keepAliveMs = toMs(request.keepAlive ?? '1m', 'keepAlive')
      pit = await this.openPit(index, keepAliveMs)
    }
    body.pit = { id: pit, keep_alive: `${keepAliveMs}ms` }
    if (after) body.search_after = after
    let response: estypes.SearchResponse<DocOf<F>>
    try {
      response = await this.#timed(index, body, (client) =>
        client.search<DocOf<F>>(body as estypes.SearchRequest),
      )
    } catch (error) {
      if (request.cursor === undefined) {
        try {
          await this.closePit(pit)
        } catch (closeError) {
          throw new SearchError(
            'E_SEARCH_ENGINE',
            'Search failed and its point in time could not be closed',
            {
              index,
              cause: new AggregateError([error, closeError]),
            },
          )
        }
      }
      throw error
    }
    const result = toResult<DocOf<F>, Record<never, never>>(response)
    const nextPit = response.pit_id ?? pit
    const last = result.hits.at(-1)
    if (result.hits.length < size || !last?.sort) {
      await this.closePit(nextPit)
      return { hits: result.hits, nextCursor: null }
    }
    return {
      hits: result.hits,
      nextCursor: encodeCursor({
        index,
        pit: nextPit,
        after: last.sort as Array<string | number | boolean | null>,
        keepAliveMs,
        shape,
      }),
    }
  }

  /**
   * Iterate every matching document in sort order through a point in time. The PIT is closed
   * when the iteration completes, when the consumer breaks out, and when a page fails.
   */
  async *scan<F extends FieldMap>(
    definition: IndexDefinition<F>,
    request: Omit<PageRequest<F>, 'cursor'> = {},
  ): AsyncGenerator<Hit<DocOf<F>>, void, undefined> {
    const size = checkCount(definition, 'size', request.size ?? 1_000)
    const keepAliveMs = toMs(request.keepAlive ?? '1m', 'keepAlive')
    const index = request.index ?? definition.name
    let pit = await this.openPit(index, keepAliveMs)
    try {
      let after: estypes.SortResults | undefined
      for (;;) {
        const body = this.#body(definition, { ...request, size, trackTotalHits: false }, true)
        body.pit = { id: pit, keep_alive: `${keepAliveMs}ms` }
        if (after) body.search_after = after
        const response = await this.#timed(index, body, (client) =>
          client.search<DocOf<F>>(body as estypes.SearchRequest),
        )
        if (response.pit_id) pit = response.pit_id
        const { hits } = toResult<DocOf<F>, Record<never, never>>(response)
        for (const hit of hits) yield hit
        const last = hits.at(-1)
        if (hits.length < size || !last?.sort) return
        after = last.sort
      }
    } finally {
      await this.closePit(pit)
    }
  }

  /**
   * Completion-suggester type-ahead (prefix only, fastest) on a `completion` autocomplete field.
   * @returns suggested texts with their document ids
   */
  async suggest<F extends FieldMap>(
    definition: IndexDefinition<F>,
    field: CompletionFields<F>,
    prefix: string,
    options: { size?: number | undefined; index?: string | undefined } = {},
  ): Promise<Array<{ text: string; id: string }>> {
    const def = definition.fieldDef(field)
    if (def.kind !== 'autocomplete' || def.strategy !== 'completion') {
      throw new SearchError(
        'E_SEARCH_FIELD_KIND',
        `suggest needs a completion autocomplete field; "${field}" is not`,
        {
          index: definition.name,
          field,
        },
      )
    }
    if (typeof prefix !== 'string' || prefix.length > definition.maxQueryLength) {
      throw new SearchError('E_SEARCH_QUERY_TOO_LONG', `Prefix for "${field}" is too long or not a string`, {
        index: definition.name,
        field,
      })
    }
    const index = options.index ?? definition.name
    const body = {
      _source: false,
      suggest: { s: { prefix, completion: { field, size: options.size ?? 10, skip_duplicates: true } } },
    }
    const response = await this.#timed(index, body, (client) => client.search({ index, ...body }))
    const entries = (response.suggest?.s ?? []) as Array<{ options: Array<{ text: string; _id?: string }> }>
    return entries.flatMap((entry) =>
      entry.options.map((option) => ({ text: option.text, id: option._id ?? '' })),
    )
  }

  /**
   * Bulk-index an async iterable of documents into the definition's index (or `options.index`),
   * ids from the definition's id field. See {@link bulkIndex} for the mechanism.
   */
  async bulk<F extends FieldMap, C = unknown>(
    definition: IndexDefinition<F>,
    source: AsyncIterable<DocOf<F>> | Iterable<DocOf<F>>,
    options: Partial<BulkOptions<DocOf<F>, C>> = {},
  ): Promise<BulkReport<C>> {
    const { client } = await this.#connect()
    const index = options.index ?? definition.name
    let report: BulkReport<C> | undefined
    try {
      report = await bulkIndex(client, source, { ...options, index, idOf: options.idOf ?? definition.idOf })
      return report
    } catch (error) {
      throw engineError(error, index)
    } finally {
      this.#bulk.loads++
      if (report) {
        this.#bulk.indexed += report.indexed
        this.#bulk.failed += report.failed
        this.#bulk.retries += report.retries
        this.#bulk.requests += report.requests
        this.#bulk.bytes += report.bytes
      }
    }
  }

  /** Cumulative bulk figures since the client was created. */
  bulkStats(): Readonly<BulkStats> {
    return { ...this.#bulk }
  }

  /** Cluster health plus search latency figures; never throws. */
  async health(): Promise<HealthReport> {
    const started = performance.now()
    try {
      const { client, adapter } = await this.#connect()
      const health = await client.cluster.health({ timeout: '5s' })
      const status = String(health.status).toLowerCase() as 'green' | 'yellow' | 'red'
      return {
        ok: status !== 'red',
        engine: adapter.kind,
        status,
        latencyMs: performance.now() - started,
        searchLatency: this.#latency.snapshot(),
      }
    } catch (error) {
      return {
        ok: false,
        engine: this.options.engine === 'opensearch' ? 'opensearch' : 'elasticsearch',
        status: 'unreachable',
        latencyMs: performance.now() - started,
        searchLatency: this.#latency.snapshot(),
        error: engineError(error),
      }
    }
  }

  /** Search latency figures (client side, ms) since start or the last `resetLatency()`. */
  latency(): LatencySnapshot {
    return this.#latency.snapshot()
  }

  /** Forget recorded latencies. */
  resetLatency(): void {
    this.#latency.reset()
  }

  /** Close connections (a client whose engine detection failed has none open). */
  async close(): Promise<void> {
    const client = this.#client
    this.#client = undefined
    await client?.close()
  }
}

function checkCount<F extends FieldMap>(
  definition: IndexDefinition<F>,
  name: string,
  value: unknown,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 10_000) {
    throw new SearchError(
      'E_SEARCH_INVALID_VALUE',
      `${name} must be an integer between 0 and 10000, got ${String(value)}`,
      {
        index: definition.name,
      },
    )
  }
  return value
}

function sortClause<F extends FieldMap>(
  definition: IndexDefinition<F>,
  sort: readonly SortSpec<F>[] | undefined,
  tiebreak: boolean,
): estypes.SortCombinations[] | undefined {
  if (!sort && !tiebreak) return undefined
  const out: estypes.SortCombinations[] = []
  let hasId = false
  for (const spec of sort ?? []) {
    const entry = typeof spec === 'string' ? { field: spec } : spec
    const name = entry.field as string
    if (name !== '_score') {
      const def = definition.fieldDef(name)
      if (!TERM_KINDS.has(def.kind)) {
        throw new SearchError('E_SEARCH_FIELD_KIND', `Cannot sort on field "${name}" of kind ${def.kind}`, {
          index: definition.name,
          field: name,
        })
      }
    }
    if (name === definition.id) hasId = true
    const order = entry.order ?? (name === '_score' ? 'desc' : 'asc')
    if (entry.order !== undefined && order !== 'asc' && order !== 'desc') {
      throw new SearchError('E_SEARCH_INVALID_VALUE', `Sort order must be 'asc' or 'desc'`, { field: name })
    }
    out.push({
      [name]: { order, ...('missing' in entry && entry.missing ? { missing: entry.missing } : {}) },
    })
  }
  // A unique tiebreaker makes the order total, which search_after needs to never skip or repeat.
  if (!hasId) out.push({ [definition.id]: { order: 'asc' } })
  return out
}

function highlightClause<F extends FieldMap>(
  definition: IndexDefinition<F>,
  spec: NonNullable<SearchRequest<F>['highlight']>,
): estypes.SearchHighlight {
  const options = Array.isArray(spec)
    ? { fields: spec as readonly string[] }
    : (spec as Exclude<typeof spec, readonly string[]>)
  const fields: Record<string, estypes.SearchHighlightField> = {}
  for (const name of options.fields as readonly string[]) {
    const def = definition.fieldDef(name)
    if (def.kind !== 'text') {
      throw new SearchError(
        'E_SEARCH_FIELD_KIND',
        `Highlighting needs a text field; "${name}" is ${def.kind}`,
        {
          index: definition.name,
          field: name,
        },
      )
    }
    fields[name] = {}
  }
  const o = options as {
    preTag?: string
    postTag?: string
    fragmentSize?: number
    numberOfFragments?: number
  }
  return {
    fields,
    pre_tags: [o.preTag ?? '<em>'],
    post_tags: [o.postTag ?? '</em>'],
    fragment_size: o.fragmentSize ?? 150,
    number_of_fragments: o.numberOfFragments ?? 3,
  }
}

const AGG_KINDS = new Set([
  'terms',
  'date_histogram',
  'histogram',
  'range',
  'filter',
  'sum',
  'avg',
  'min',
  'max',
  'value_count',
  'cardinality',
  'stats',
])

function checkAggs<F extends FieldMap>(definition: IndexDefinition<F>, aggs: AggMap<F>): void {
  for (const [name, agg] of Object.entries(aggs)) {
    const kinds = Object.keys(agg).filter((key) => key !== 'aggs')
    const kind = kinds[0]
    if (kinds.length !== 1 || kind === undefined || !AGG_KINDS.has(kind)) {
      throw new SearchError(
        'E_SEARCH_INVALID_VALUE',
        `Aggregation "${name}" must have exactly one supported kind`,
        {
          index: definition.name,
        },
      )
    }
    const inner = (agg as Record<string, { field?: unknown }>)[kind]
    if (kind !== 'filter' && inner && typeof inner.field === 'string') {
      const def = definition.fieldDef(inner.field)
      if (!TERM_KINDS.has(def.kind)) {
        throw new SearchError(
          'E_SEARCH_FIELD_KIND',
          `Aggregation "${name}" cannot use field "${inner.field}" of kind ${def.kind}`,
          {
            index: definition.name,
            field: inner.field,
          },
        )
      }
    }
    if ('aggs' in agg && agg.aggs) checkAggs(definition, agg.aggs)
  }
}

function toResult<D, A>(response: estypes.SearchResponse<D>): SearchResult<D, A> {
  const total = response.hits.total
  return {
    total:
      total === undefined ? undefined : typeof total === 'number' ? { value: total, relation: 'eq' } : total,
    took: response.took,
    hits: response.hits.hits.map((hit) => ({
      id: hit._id as string,
      score: hit._score ?? null,
      source: hit._source as D,
      highlight: hit.highlight,
      sort: hit.sort,
    })),
    aggregations: (response.aggregations ?? {}) as SearchResult<D, A>['aggregations'],
  }
}

/**
 * Create a search client over Elasticsearch (8.x/9.x) or OpenSearch 2.x.
 *
 * @example
 * const search = createSearchClient({ node: 'http://127.0.0.1:9200', engine: 'opensearch' })
 */
export function createSearchClient(options: SearchClientOptions): SearchClient {
  return new SearchClient(options)
}
