/**
 * The search client: a facade over one {@link ClientState} (options, connection, breaker,
 * latency, counters) and one file per mechanism, each taking the state and doing one thing:
 *
 * - `options.ts` + `credentials.ts`: options resolved once, secrets kept out of `client.options`;
 * - `transport.ts` + `adapters.ts` + `connection.ts`: the official client for the engine (the
 *   OpenSearch transport, the PIT endpoints), detected once with `engine: 'auto'`;
 * - `../read/`: the bounded interactive reads (`search`, `get`, `suggest`: budget, breaker,
 *   fallback);
 * - `../query/`: query compilation (filters, sort, highlight, aggregation checks, result mapping);
 * - `../paging/`: points in time, cursors (`searchPage`) and `scan`;
 * - `admin.ts`, `health.ts`, `../bulk/client-bulk.ts`: index administration, health, bulk loads;
 * - `instrument.ts`: latency and `slow-query` events of every search;
 * - `engine-error.ts`: how a transport failure becomes a redacted `SearchError`.
 *
 * The facade keeps the public methods and their documentation, and nothing else: each method
 * calls the mechanism function of the same name with the state. No mechanism imports the facade,
 * so the dependencies run one way (facade -> mechanisms -> state).
 */
import { EventEmitter } from 'node:events'
import type { Client, estypes } from '@elastic/elasticsearch'
import type { BulkReport } from '../bulk/bulk-indexer.js'
import type { BulkOptions } from '../bulk/bulk-options.js'
import { bulkInto } from '../bulk/client-bulk.js'
import type { Duration } from '../duration.js'
import type { LatencySnapshot } from '../observability/latency-histogram.js'
import { closePit, openPit } from '../paging/point-in-time.js'
import { scan } from '../paging/scan.js'
import { searchPage } from '../paging/search-page.js'
import type {
  AggMap,
  DocOf,
  GetOptions,
  GetResult,
  Hit,
  Page,
  PageRequest,
  SearchRequest,
  SearchResult,
} from '../query/types.js'
import { get, search, suggest } from '../read/interactive-reads.js'
import type { CompletionFields, IndexDefinition } from '../schema/definition-types.js'
import type { FieldMap } from '../schema/fields.js'
import type { EngineKind } from './adapters.js'
import { createIndex, deleteIndex, refresh } from './admin.js'
import {
  type BulkStats,
  type ClientState,
  createClientState,
  type ReadStats,
  type SearchClientEvents,
} from './client-state.js'
import { connect, connectFixed } from './connection.js'
import { type HealthReport, health } from './health.js'
import {
  type ResolvedSearchClientOptions,
  resolveSearchClientOptions,
  type SearchClientOptions,
} from './options.js'

/**
 * A search client over one engine. Create with {@link createSearchClient}.
 *
 * Events: `slow-query` ({@link SlowQueryEvent}), `breaker` (state), `fallback-error`.
 */
export class SearchClient extends EventEmitter<SearchClientEvents> {
  /** Resolved options (no secret: safe to log). */
  readonly options: ResolvedSearchClientOptions
  readonly #state: ClientState

  constructor(options: SearchClientOptions) {
    super()
    this.options = resolveSearchClientOptions(options)
    this.#state = createClientState(this.options, options.fallback, this, options.client)
    connectFixed(this.#state)
  }

  /** The engine flavour (detected once with `engine: 'auto'`). */
  async engine(): Promise<EngineKind> {
    return (await connect(this.#state)).adapter.kind
  }

  /** The underlying official client, for calls this package does not wrap. */
  async raw(): Promise<Client> {
    return (await connect(this.#state)).client
  }

  /** Create the index of a definition (settings + mappings), optionally under another name and with aliases. */
  createIndex<F extends FieldMap>(
    definition: IndexDefinition<F>,
    options: { name?: string | undefined; aliases?: Record<string, estypes.IndicesAlias> | undefined } = {},
  ): Promise<void> {
    return createIndex(this.#state, definition, options)
  }

  /** Delete indices (missing ones are ignored). */
  deleteIndex(index: string | string[]): Promise<void> {
    return deleteIndex(this.#state, index)
  }

  /** Make recent writes searchable. */
  refresh(index: string): Promise<void> {
    return refresh(this.#state, index)
  }

  /** Open a point in time on an index. @returns its id */
  openPit(index: string, keepAlive: Duration = '1m'): Promise<string> {
    return openPit(this.#state, index, keepAlive)
  }

  /** Close a point in time. */
  closePit(id: string): Promise<void> {
    return closePit(this.#state, id)
  }

  /**
   * Typed search: hits are `DocumentOf<definition>`, aggregation results are typed from `aggs`.
   * An interactive read: bounded by `request.timeout` / `searchTimeout` (1 s) and the breaker;
   * with a `fallback` (the request's or the client's), an engine that cannot answer is answered
   * by it and the result has `degraded` set.
   *
   * @throws SearchError `E_SEARCH_UNKNOWN_FIELD` / `E_SEARCH_FIELD_KIND` for bad sort, highlight or aggregation fields
   * @throws SearchUnavailableError `E_SEARCH_UNAVAILABLE` when the engine does not answer within the budget (no fallback)
   * @throws SearchError `E_SEARCH_AUTH` when the credentials are refused (no fallback), `E_SEARCH_ENGINE` for other engine errors
   */
  search<F extends FieldMap, const A extends AggMap<F> = Record<never, never>>(
    definition: IndexDefinition<F>,
    request: SearchRequest<F, A> = {},
  ): Promise<SearchResult<DocOf<F>, A>> {
    return search(this.#state, definition, request)
  }

  /**
   * One document by id (`GET /<index>/_doc/<id>`), or `null` when there is none. An interactive
   * read like {@link search}: bounded, behind the breaker, answered by a fallback (then
   * `degraded` is set) when the engine cannot.
   *
   * @throws SearchUnavailableError `E_SEARCH_UNAVAILABLE` when the engine does not answer within the budget (no fallback)
   */
  get<F extends FieldMap>(
    definition: IndexDefinition<F>,
    id: string,
    options: GetOptions<DocOf<F>> = {},
  ): Promise<GetResult<DocOf<F>> | null> {
    return get(this.#state, definition, id, options)
  }

  /**
   * One page of deep pagination: the first call (no cursor) opens a point in time, each page
   * continues with `search_after` from the cursor, and the last page closes the PIT and returns
   * `nextCursor: null`. Pages never overlap nor skip documents, whatever is written meanwhile.
   *
   * @throws SearchError `E_SEARCH_INVALID_CURSOR` for a malformed cursor
   */
  searchPage<F extends FieldMap>(
    definition: IndexDefinition<F>,
    request: PageRequest<F> = {},
  ): Promise<Page<DocOf<F>>> {
    return searchPage(this.#state, definition, request)
  }

  /**
   * Iterate every matching document in sort order through a point in time. The PIT is closed
   * when the iteration completes, when the consumer breaks out, and when a page fails.
   */
  scan<F extends FieldMap>(
    definition: IndexDefinition<F>,
    request: Omit<PageRequest<F>, 'cursor'> = {},
  ): AsyncGenerator<Hit<DocOf<F>>, void, undefined> {
    return scan(this.#state, definition, request)
  }

  /**
   * Completion-suggester type-ahead (prefix only, fastest) on a `completion` autocomplete field.
   * An interactive read: bounded by `options.timeout` / `searchTimeout` and the breaker (no
   * fallback: a type-ahead box shows nothing, or the caller answers 503).
   * @returns suggested texts with their document ids
   * @throws SearchUnavailableError `E_SEARCH_UNAVAILABLE` when the engine does not answer within the budget
   */
  suggest<F extends FieldMap>(
    definition: IndexDefinition<F>,
    field: CompletionFields<F>,
    prefix: string,
    options: { size?: number | undefined; index?: string | undefined; timeout?: Duration | undefined } = {},
  ): Promise<Array<{ text: string; id: string }>> {
    return suggest(this.#state, definition, field, prefix, options)
  }

  /**
   * Bulk-index an async iterable of documents into the definition's index (or `options.index`),
   * ids from the definition's id field. See `bulkIndex` (`bulk/bulk-indexer.ts`) for the mechanism.
   */
  bulk<F extends FieldMap, C = unknown>(
    definition: IndexDefinition<F>,
    source: AsyncIterable<DocOf<F>> | Iterable<DocOf<F>>,
    options: Partial<BulkOptions<DocOf<F>, C>> = {},
  ): Promise<BulkReport<C>> {
    return bulkInto(this.#state, definition, source, options)
  }

  /** Cumulative bulk figures since the client was created. */
  bulkStats(): Readonly<BulkStats> {
    return { ...this.#state.bulk }
  }

  /**
   * Cluster health plus search latency figures and the breaker's state; never throws, and
   * answers within `timeout` (the engine detection and the request included; default 5 s). Not
   * gated by the breaker: it is how an operator sees the engine while searches are refused.
   */
  health(options: { timeout?: Duration | undefined } = {}): Promise<HealthReport> {
    return health(this.#state, options)
  }

  /** Figures of the interactive reads: calls, unavailable, refused by the breaker, fallbacks. */
  readStats(): Readonly<ReadStats> {
    return { ...this.#state.reads, breaker: this.#state.breaker.state }
  }

  /** Search latency figures (client side, ms) since start or the last `resetLatency()`. */
  latency(): LatencySnapshot {
    return this.#state.latency.snapshot()
  }

  /** Forget recorded latencies. */
  resetLatency(): void {
    this.#state.latency.reset()
  }

  /**
   * Close the connections this client opened (a client whose engine detection failed has none
   * open). A client given as `client` is left open: its owner closes it (this only stops
   * listening to its `diagnostic` events).
   */
  async close(): Promise<void> {
    this.#state.closed = true
    this.#state.detachBorrowed?.()
    this.#state.detachBorrowed = undefined
    const client = this.#state.client
    this.#state.client = undefined
    await client?.close()
  }
}

/**
 * Create a search client over Elasticsearch (8.x/9.x) or OpenSearch 2.x, from the engine's URLs
 * (`node`: the client is built and owned here) or over an official `@elastic/elasticsearch`
 * client the application already has (`client`: borrowed, never closed here).
 *
 * @example
 * const search = createSearchClient({ node: 'http://127.0.0.1:9200', engine: 'opensearch' })
 * // an existing Client, e.g. @nestjs/elasticsearch's ElasticsearchService:
 * const wrapped = createSearchClient({ client: elasticsearchService })
 * @throws SearchError `E_SEARCH_INVALID_OPTION` for bad options, neither `node` nor `client`, an
 *   option that belongs to a given `client`, or a client that is not an `@elastic/elasticsearch` one
 */
export function createSearchClient(options: SearchClientOptions): SearchClient {
  return new SearchClient(options)
}
