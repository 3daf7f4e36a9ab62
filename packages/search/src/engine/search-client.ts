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
 * **Bounded interactive reads.** `search`, `suggest` and `get` run through `#read`: one budget
 * per call (`timeout` > `searchTimeout` > 1 s) covers the engine detection, the request and its
 * retries, enforced by an abort signal handed to the transport and by a race against the
 * deadline (the transport's retry backoff does not listen to the signal); retries go only to
 * other nodes (`min(maxRetries, nodes - 1)`), so a lone dead node is not retried inside the
 * budget. A consecutive-failure circuit breaker in front ({@link CircuitBreaker}) refuses reads at
 * once while the engine is known down and lets one probe through per cooldown. Unavailability is
 * `E_SEARCH_UNAVAILABLE` (always retriable), never a hang; a fallback (per call, or the client's
 * `fallback`) may answer instead, and its result says `degraded`. Everything else (bulk, reindex,
 * reconcile, PIT paging, the outbox) keeps the transport's longer `requestTimeout` and retries,
 * and is not gated by the breaker: background work has its own retries and must not be shed.
 *
 * **Secrets.** Credentials in node URLs are moved to `auth` at resolution; `auth`, `tls` and an
 * `authorization` header live in a private store, not in `client.options`. Each client's transport
 * tags the errors it throws with who it authenticates as and the exact secrets to scrub
 * ({@link ERROR_CONTEXT}), so every `SearchError`, whatever path raised it, names the user and
 * never the password, key or token.
 *
 * Every search goes through `#timed` or `#read`, which feed the latency histogram and emit a
 * `slow-query` event with the query's fingerprint when a search takes longer than the threshold
 * (only when someone listens).
 */
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import {
  Client,
  type ClientOptions,
  type estypes,
  Transport,
  type TransportOptions,
  type TransportRequestOptions,
} from '@elastic/elasticsearch'
import { type BulkOptions, type BulkReport, bulkIndex } from '../bulk/bulk-indexer.js'
import { type Duration, toEngineTime, toMs } from '../duration.js'
import {
  ERROR_CONTEXT,
  type ErrorContext,
  engineError,
  isTransportFailure,
  SearchError,
  SearchUnavailableError,
  type SearchUnavailableReason,
} from '../errors.js'
import { queryFingerprint, queryShape } from '../observability/fingerprint.js'
import { LatencyHistogram, type LatencySnapshot } from '../observability/latency-histogram.js'
import { decodeCursor, encodeCursor } from '../query/cursor.js'
import type {
  AggMap,
  DocOf,
  GetFallback,
  GetOptions,
  GetResult,
  Hit,
  Page,
  PageRequest,
  SearchDegradation,
  SearchFallback,
  SearchRequest,
  SearchResult,
  SortSpec,
} from '../query/types.js'
import {
  type CredentialsLike,
  describeCredentials,
  redactText,
  secretsOf,
  splitUrlCredentials,
} from '../redact.js'
import type { CompletionFields, IndexDefinition, Query } from '../schema/define-index.js'
import { TERM_KINDS } from '../schema/define-index.js'
import type { FieldMap } from '../schema/fields.js'
import { type BreakerState, CircuitBreaker } from './circuit-breaker.js'

/** Which engine a client talks to. */
export type EngineKind = 'elasticsearch' | 'opensearch'

/**
 * Credentials of the engine: basic (`{ username, password }`), an API key (`{ apiKey: 'base64' }`
 * or `{ apiKey: { id, api_key } }`, Elasticsearch) or a bearer token (`{ bearer }`, e.g. an
 * OpenSearch JWT). Never shown in errors, logs, events, health output or `client.options`.
 */
export type SearchAuth = CredentialsLike

/** TLS of `https://` nodes (node:tls options; the secret ones are kept out of `client.options`). */
export type SearchTlsOptions = Pick<
  TlsConnectionOptions,
  'ca' | 'cert' | 'key' | 'passphrase' | 'pfx' | 'rejectUnauthorized' | 'servername'
>

/** Client-wide fallbacks of the interactive reads (a call's own `fallback` wins). */
export interface SearchFallbacks {
  /** Answers `search` calls the engine cannot serve. */
  search?: SearchFallback<any, any> | undefined
  /** Answers `get` calls the engine cannot serve. */
  get?: GetFallback<any> | undefined
}

/** Options of {@link createSearchClient}. */
export interface SearchClientOptions {
  /**
   * Engine URL(s), e.g. `https://127.0.0.1:9200`. Credentials in a URL (`https://user:pass@host`)
   * are moved to `auth` (and never shown); give them in one place only.
   */
  node: string | string[]
  /** Engine flavour; `auto` reads `GET /` once before the first request. @default 'auto' */
  engine?: EngineKind | 'auto' | undefined
  /** Credentials (basic, API key or bearer token). @default none, or the node URL's credentials */
  auth?: SearchAuth | undefined
  /** TLS of https nodes: `ca` (PEM of a custom CA), client `cert`/`key`, `rejectUnauthorized`. @default Node's CAs */
  tls?: SearchTlsOptions | undefined
  /**
   * Budget of one interactive read (`search`, `suggest`, `get`): engine detection, request and
   * retries included (ms or `'1s'`); past it the call rejects with `E_SEARCH_UNAVAILABLE`. A
   * call's `timeout` wins. @default '1s'
   */
  searchTimeout?: Duration | undefined
  /** Consecutive unavailability failures of interactive reads that open the circuit breaker. @default 5 */
  breakerThreshold?: number | undefined
  /** How long the open breaker refuses reads before letting one probe through (ms or `'2s'`). @default '2s' */
  breakerCooldown?: Duration | undefined
  /** Answers for interactive reads the engine cannot serve; the results say `degraded`. @default none */
  fallback?: SearchFallbacks | undefined
  /**
   * Per-request timeout of everything else (bulk, reindex, reconcile, PIT paging, admin calls;
   * ms or `'30s'`). @default '30s'
   */
  requestTimeout?: Duration | undefined
  /** Transport-level retries of connection errors and 502-504 (interactive reads: other nodes only). @default 3 */
  maxRetries?: number | undefined
  /** A search slower than this emits a `slow-query` event (ms or `'500ms'`). @default '500ms' */
  slowQueryThreshold?: Duration | undefined
  /**
   * Extra options for the official client (compression, headers...). `node`/`Transport` are set
   * by this package; `auth` and `tls` here are accepted too (prefer the options above).
   */
  clientOptions?: Omit<ClientOptions, 'node' | 'nodes' | 'Transport'> | undefined
}

/** Defaults of {@link SearchClientOptions}. */
export const DEFAULT_SEARCH_CLIENT_OPTIONS = Object.freeze({
  engine: 'auto' as EngineKind | 'auto',
  searchTimeout: '1s' as Duration,
  breakerThreshold: 5,
  breakerCooldown: '2s' as Duration,
  requestTimeout: '30s' as Duration,
  maxRetries: 3,
  slowQueryThreshold: '500ms' as Duration,
})

/** Resolved, frozen options of a search client (no secret: safe to log). */
export interface ResolvedSearchClientOptions {
  /** Node URLs, without credentials. */
  readonly nodes: readonly string[]
  readonly engine: EngineKind | 'auto'
  /** Who the client authenticates as: `user "alice"`, `an API key`, `no credentials`. */
  readonly credentials: string
  /** Whether a custom CA is given (`tls.ca`). */
  readonly customCa: boolean
  /** Budget of an interactive read, in ms. */
  readonly searchTimeoutMs: number
  /** Consecutive unavailability failures that open the breaker. */
  readonly breakerThreshold: number
  /** Open time of the breaker before a probe, in ms. */
  readonly breakerCooldownMs: number
  /** Per-request timeout of everything else, in ms. */
  readonly requestTimeoutMs: number
  /** Transport retries (interactive reads: `min(maxRetries, nodes - 1)`). */
  readonly maxRetries: number
  /** Slow-query threshold, in ms. */
  readonly slowQueryMs: number
  /** The official client's extra options, without `auth`, `tls` and an `authorization` header. */
  readonly clientOptions: Omit<ClientOptions, 'node' | 'nodes' | 'Transport'>
}

/** Figures of the interactive reads of a client (see {@link SearchClient.readStats}). */
export interface ReadStats {
  /** Interactive reads called (search, suggest, get). */
  reads: number
  /** Reads that failed as unavailable (timeout, connection, overloaded, circuit open). */
  unavailable: number
  /** Of those, refused at once by the open breaker (no request sent). */
  rejected: number
  /** Reads answered by a fallback. */
  fallbacks: number
  /** Fallbacks that failed too (the read then rejects with the engine's error). */
  fallbackFailures: number
  /** The breaker's state now. */
  breaker: BreakerState
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
  /** Cluster status, `unreachable`, or `unauthorized` (the credentials were refused: 401/403). */
  status: 'green' | 'yellow' | 'red' | 'unreachable' | 'unauthorized'
  /** Round-trip of the health call in ms. */
  latencyMs: number
  /** Search latency figures since start (or the last reset). */
  searchLatency: LatencySnapshot
  /** The interactive reads' circuit breaker (`open`: searches are refused at once). */
  breaker: BreakerState
  /** The error, when unreachable (or the credentials were refused). */
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

/** What a client keeps out of its public options: credentials, TLS, the full client options. */
interface Secrets {
  auth: SearchAuth | undefined
  tls: SearchTlsOptions | undefined
  clientOptions: Omit<ClientOptions, 'node' | 'nodes' | 'Transport'>
  context: ErrorContext
}

const SECRETS = new WeakMap<ResolvedSearchClientOptions, Secrets>()

function validAuth(auth: unknown): auth is SearchAuth {
  if (typeof auth !== 'object' || auth === null) return false
  const a = auth as Record<string, unknown>
  if ('username' in a) return typeof a.username === 'string' && typeof a.password === 'string'
  if ('apiKey' in a) {
    const key = a.apiKey as { id?: unknown; api_key?: unknown } | string
    return (
      (typeof key === 'string' && key.length > 0) ||
      (typeof key === 'object' &&
        key !== null &&
        typeof key.id === 'string' &&
        typeof key.api_key === 'string')
    )
  }
  if ('bearer' in a) return typeof a.bearer === 'string' && a.bearer.length > 0
  return false
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      `${name} must be a positive integer, got ${String(value)}`,
    )
  }
  return value
}

/**
 * Validate options into a frozen resolved object. Credentials found in node URLs are moved to
 * `auth`; `auth`, `tls` and an `authorization` header are kept out of the result.
 *
 * @throws SearchError `E_SEARCH_INVALID_OPTION` for a bad option, or credentials given twice
 */
export function resolveSearchClientOptions(options: SearchClientOptions): ResolvedSearchClientOptions {
  const given = Array.isArray(options.node) ? options.node : [options.node]
  if (given.length === 0 || !given.every((n) => typeof n === 'string' && /^https?:\/\//.test(n))) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `node must be an http(s) URL or a list of them`)
  }
  const nodes: string[] = []
  let urlAuth: { username: string; password: string } | undefined
  for (const node of given) {
    let split: ReturnType<typeof splitUrlCredentials>
    try {
      split = splitUrlCredentials(node)
    } catch (error) {
      // The URL itself may carry a password: the message names neither.
      throw new SearchError('E_SEARCH_INVALID_OPTION', `node #${nodes.length + 1} is not a valid URL`, {
        cause: new Error(redactText(String(error))),
      })
    }
    nodes.push(split.url)
    if (split.username !== undefined) {
      const next = { username: split.username, password: split.password ?? '' }
      if (urlAuth && (urlAuth.username !== next.username || urlAuth.password !== next.password)) {
        throw new SearchError(
          'E_SEARCH_INVALID_OPTION',
          'node URLs carry different credentials: give one `auth`',
        )
      }
      urlAuth = next
    }
  }
  const { auth: clientAuth, tls: clientTls, ...clientOptions } = options.clientOptions ?? {}
  const sources = [options.auth, clientAuth, urlAuth].filter((a) => a !== undefined)
  if (sources.length > 1) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      'credentials are given more than once (auth, clientOptions.auth, node URL): give one',
    )
  }
  const auth = sources[0] as SearchAuth | undefined
  if (auth !== undefined && !validAuth(auth)) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      'auth must be { username, password }, { apiKey } or { bearer } with string values',
    )
  }
  if (options.tls !== undefined && clientTls !== undefined) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      'tls is given twice (tls and clientOptions.tls): give one',
    )
  }
  const tls = (options.tls ?? clientTls) as SearchTlsOptions | undefined
  const headers = clientOptions.headers as Record<string, unknown> | undefined
  const headerAuth = headers?.authorization ?? headers?.Authorization
  if (headers && headerAuth !== undefined) {
    const { authorization: _a, Authorization: _b, ...rest } = headers
    clientOptions.headers = rest as NonNullable<typeof clientOptions.headers>
  }
  const engine = options.engine ?? DEFAULT_SEARCH_CLIENT_OPTIONS.engine
  if (!['auto', 'elasticsearch', 'opensearch'].includes(engine)) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `engine must be 'elasticsearch', 'opensearch' or 'auto'`)
  }
  const maxRetries = options.maxRetries ?? DEFAULT_SEARCH_CLIENT_OPTIONS.maxRetries
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `maxRetries must be a non-negative integer`)
  }
  const searchTimeoutMs = toMs(
    options.searchTimeout ?? DEFAULT_SEARCH_CLIENT_OPTIONS.searchTimeout,
    'searchTimeout',
  )
  if (searchTimeoutMs <= 0) throw new SearchError('E_SEARCH_INVALID_OPTION', 'searchTimeout must be above 0')
  const fallback = options.fallback ?? {}
  for (const key of Object.keys(fallback)) {
    const fn = (fallback as Record<string, unknown>)[key]
    if ((key !== 'search' && key !== 'get') || (fn !== undefined && typeof fn !== 'function')) {
      throw new SearchError(
        'E_SEARCH_INVALID_OPTION',
        `fallback.${key} is not a fallback (search, get: functions)`,
      )
    }
  }
  const credentials =
    auth === undefined && headerAuth !== undefined ? 'an authorization header' : describeCredentials(auth)
  const secrets = [...secretsOf(auth), ...(typeof headerAuth === 'string' ? [headerAuth] : [])]
  const resolved: ResolvedSearchClientOptions = Object.freeze({
    nodes: Object.freeze(nodes),
    engine,
    credentials,
    customCa: tls?.ca !== undefined,
    searchTimeoutMs,
    breakerThreshold: positiveInteger(
      options.breakerThreshold ?? DEFAULT_SEARCH_CLIENT_OPTIONS.breakerThreshold,
      'breakerThreshold',
    ),
    breakerCooldownMs: toMs(
      options.breakerCooldown ?? DEFAULT_SEARCH_CLIENT_OPTIONS.breakerCooldown,
      'breakerCooldown',
    ),
    requestTimeoutMs: toMs(
      options.requestTimeout ?? DEFAULT_SEARCH_CLIENT_OPTIONS.requestTimeout,
      'requestTimeout',
    ),
    maxRetries,
    slowQueryMs: toMs(
      options.slowQueryThreshold ?? DEFAULT_SEARCH_CLIENT_OPTIONS.slowQueryThreshold,
      'slowQueryThreshold',
    ),
    clientOptions: Object.freeze(clientOptions),
  })
  SECRETS.set(resolved, {
    auth,
    tls,
    clientOptions: {
      ...clientOptions,
      ...(headerAuth !== undefined
        ? { headers: { ...clientOptions.headers, authorization: String(headerAuth) } }
        : {}),
    },
    context: Object.freeze({ credentials, secrets: Object.freeze(secrets) }),
  })
  return resolved
}

/**
 * A transport class that tags every error it throws with the client's {@link ErrorContext}
 * (non-enumerable: not printed, not serialized), for {@link engineError}.
 */
function taggingTransport(base: typeof Transport, context: ErrorContext): typeof Transport {
  const Tagging = class extends base {}
  const request = base.prototype.request
  Tagging.prototype.request = async function (this: Transport, ...args: Parameters<typeof request>) {
    try {
      return await request.apply(this, args)
    } catch (error) {
      if (typeof error === 'object' && error !== null && !(ERROR_CONTEXT in error)) {
        Object.defineProperty(error, ERROR_CONTEXT, { value: context, enumerable: false })
      }
      throw error
    }
  } as typeof request
  return Tagging
}

function buildClient(options: ResolvedSearchClientOptions, engine: EngineKind): Client {
  const secrets = SECRETS.get(options)
  if (secrets === undefined) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'options must come from resolveSearchClientOptions')
  }
  return new Client({
    ...secrets.clientOptions,
    ...(secrets.auth !== undefined ? { auth: secrets.auth as NonNullable<ClientOptions['auth']> } : {}),
    ...(secrets.tls !== undefined ? { tls: secrets.tls } : {}),
    nodes: [...options.nodes],
    requestTimeout: options.requestTimeoutMs,
    maxRetries: options.maxRetries,
    Transport: taggingTransport(engine === 'opensearch' ? OpenSearchTransport : Transport, secrets.context),
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

/** Events of a {@link SearchClient}. */
export interface SearchClientEvents {
  /** A search slower than `slowQueryThreshold`. */
  'slow-query': [SlowQueryEvent]
  /** The interactive reads' breaker changed state (`open`: reads are refused at once). */
  breaker: [BreakerState]
  /** A fallback failed too (the read rejected with the engine's error; counted in `readStats`). */
  'fallback-error': [{ operation: 'search' | 'get'; index: string; error: unknown }]
}

/** Sentinel rejection of a read's deadline (never leaves the client). */
const DEADLINE = Symbol('deadline')

/** A request that outlived its read's deadline settles later; its outcome was already reported. */
function dropLateOutcome(): void {
  // The read rejected at its deadline and aborted the request; what the aborted request does
  // afterwards (an abort error, or an answer nobody waits for) changes nothing.
}

function isFallbackError(error: unknown): error is SearchError {
  return (
    error instanceof SearchError && (error.code === 'E_SEARCH_UNAVAILABLE' || error.code === 'E_SEARCH_AUTH')
  )
}

function degradation(error: SearchError): SearchDegradation {
  return {
    reason: error instanceof SearchUnavailableError ? error.reason : 'auth',
    code: error.code as SearchDegradation['code'],
    message: error.message,
  }
}

/**
 * A search client over one engine. Create with {@link createSearchClient}.
 *
 * Events: `slow-query` ({@link SlowQueryEvent}), `breaker` (state), `fallback-error`.
 */
export class SearchClient extends EventEmitter<SearchClientEvents> {
  /** Resolved options (no secret: safe to log). */
  readonly options: ResolvedSearchClientOptions
  readonly #latency = new LatencyHistogram()
  readonly #bulk: BulkStats = { loads: 0, indexed: 0, failed: 0, retries: 0, requests: 0, bytes: 0 }
  readonly #reads: Omit<ReadStats, 'breaker'> = {
    reads: 0,
    unavailable: 0,
    rejected: 0,
    fallbacks: 0,
    fallbackFailures: 0,
  }
  readonly #breaker: CircuitBreaker
  readonly #fallback: SearchFallbacks
  /** Interactive reads retry only on other nodes: a lone dead node is not retried inside the budget. */
  readonly #readRetries: number
  #connection: Promise<Connection> | undefined
  #client: Client | undefined

  constructor(options: SearchClientOptions) {
    super()
    this.options = resolveSearchClientOptions(options)
    this.#fallback = { ...options.fallback }
    this.#readRetries = Math.min(this.options.maxRetries, this.options.nodes.length - 1)
    this.#breaker = new CircuitBreaker(
      this.options.breakerThreshold,
      this.options.breakerCooldownMs,
      (state) => {
        if (this.listenerCount('breaker') > 0) this.emit('breaker', state)
      },
    )
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
      // Retried on other nodes only (no backoff sleeps): interactive reads wait on the detection.
      const info = (await probe.transport.request(
        { method: 'GET', path: '/' },
        { maxRetries: this.#readRetries },
      )) as {
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

  /**
   * Run one interactive read within its budget and behind the breaker. Resolves with the answer,
   * or rejects no later than `budgetMs` after the call: `E_SEARCH_UNAVAILABLE` when the engine
   * did not answer (timeout, connection, 429/502-504, breaker open), else the engine's error.
   * Every call the breaker lets through reports a success or a failure to it, so a half-open
   * probe always settles the state.
   */
  async #read<T>(
    operation: 'search' | 'suggest' | 'get',
    index: string,
    body: Record<string, unknown>,
    timeout: Duration | undefined,
    run: (client: Client, options: TransportRequestOptions) => Promise<T>,
  ): Promise<T> {
    const budgetMs = timeout === undefined ? this.options.searchTimeoutMs : toMs(timeout, 'timeout')
    this.#reads.reads++
    if (!this.#breaker.allow()) {
      this.#reads.unavailable++
      this.#reads.rejected++
      const retryAfterMs = this.#breaker.retryAfterMs()
      throw new SearchUnavailableError(
        `Search engine unavailable (${operation} on "${index}"): the circuit breaker is open after ${this.options.breakerThreshold} consecutive failures; next probe in ${Math.ceil(retryAfterMs)} ms`,
        { index, operation, budgetMs, reason: 'circuit-open', retryAfterMs },
      )
    }
    const controller = new AbortController()
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort()
        reject(DEADLINE)
      }, budgetMs)
    })
    const requestOptions: TransportRequestOptions = {
      signal: controller.signal,
      requestTimeout: budgetMs,
      maxRetries: this.#readRetries,
    }
    const work = this.#connect().then(({ client }) => run(client, requestOptions))
    work.catch(dropLateOutcome)
    const started = performance.now()
    try {
      const result = await Promise.race([work, deadline])
      this.#breaker.success()
      return result
    } catch (error) {
      throw this.#readFailure(error, operation, index, budgetMs)
    } finally {
      clearTimeout(timer)
      const durationMs = performance.now() - started
      this.#latency.record(durationMs)
      if (durationMs >= this.options.slowQueryMs && this.listenerCount('slow-query') > 0) {
        this.emit('slow-query', { index, durationMs, fingerprint: queryFingerprint(body), body })
      }
    }
  }

  /** Classify a read's failure, tell the breaker, and return the error to reject with. */
  #readFailure(error: unknown, operation: string, index: string, budgetMs: number): SearchError {
    // The detection wraps its failure in a SearchError; classify by what it wraps.
    const cause = error instanceof SearchError && error.code === 'E_SEARCH_ENGINE' ? error.cause : error
    const status = error instanceof SearchError ? error.status : engineError(error).status
    let reason: SearchUnavailableReason | undefined
    if (cause === DEADLINE || (cause instanceof Error && cause.name === 'RequestAbortedError'))
      reason = 'timeout'
    else if (cause instanceof Error && cause.name === 'TimeoutError') reason = 'timeout'
    else if (isTransportFailure(cause)) reason = 'connection'
    else if (status === 429 || status === 502 || status === 503 || status === 504) reason = 'overloaded'
    if (reason === undefined) {
      // The engine answered (400, 401, 404...): it is up.
      this.#breaker.success()
      return engineError(error, index)
    }
    this.#breaker.failure()
    this.#reads.unavailable++
    const detail =
      reason === 'timeout'
        ? `no answer within ${budgetMs} ms`
        : engineError(cause, index).message.replace(/^Search engine request failed: /, '')
    return new SearchUnavailableError(`Search engine unavailable (${operation} on "${index}"): ${detail}`, {
      index,
      operation,
      budgetMs,
      reason,
      status,
      cause: cause === DEADLINE ? undefined : cause,
    })
  }

  /** Answer a failed read from `fallback` when it applies; otherwise (or when it fails) reject. */
  async #fallBack<T>(
    operation: 'search' | 'get',
    index: string,
    error: unknown,
    fallback: ((error: SearchError) => T | Promise<T>) | undefined,
  ): Promise<T> {
    if (fallback === undefined || !isFallbackError(error)) throw error
    try {
      const answer = await fallback(error)
      this.#reads.fallbacks++
      return answer
    } catch (fallbackError) {
      this.#reads.fallbackFailures++
      if (this.listenerCount('fallback-error') > 0)
        this.emit('fallback-error', { operation, index, error: fallbackError })
      const Failure = error instanceof SearchUnavailableError ? SearchUnavailableError : SearchError
      const message = `${error.message}; the fallback failed too: ${redactText(fallbackError instanceof Error ? fallbackError.message : String(fallbackError))}`
      throw Failure === SearchUnavailableError
        ? new SearchUnavailableError(message, {
            index,
            operation,
            budgetMs: (error as SearchUnavailableError).budgetMs,
            reason: (error as SearchUnavailableError).reason,
            retryAfterMs: (error as SearchUnavailableError).retryAfterMs,
            status: error.status,
            cause: new AggregateError([error, fallbackError]),
          })
        : new SearchError(error.code, message, {
            index,
            status: error.status,
            retriable: error.retriable,
            cause: new AggregateError([error, fallbackError]),
          })
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
   * An interactive read: bounded by `request.timeout` / `searchTimeout` (1 s) and the breaker;
   * with a `fallback` (the request's or the client's), an engine that cannot answer is answered
   * by it and the result has `degraded` set.
   *
   * @throws SearchError `E_SEARCH_UNKNOWN_FIELD` / `E_SEARCH_FIELD_KIND` for bad sort, highlight or aggregation fields
   * @throws SearchUnavailableError `E_SEARCH_UNAVAILABLE` when the engine does not answer within the budget (no fallback)
   * @throws SearchError `E_SEARCH_AUTH` when the credentials are refused (no fallback), `E_SEARCH_ENGINE` for other engine errors
   */
  async search<F extends FieldMap, const A extends AggMap<F> = Record<never, never>>(
    definition: IndexDefinition<F>,
    request: SearchRequest<F, A> = {},
  ): Promise<SearchResult<DocOf<F>, A>> {
    const index = request.index ?? definition.name
    const body = this.#body(definition, request as SearchRequest<F, AggMap<F>>, false)
    try {
      const response = await this.#read('search', index, body, request.timeout, (client, options) =>
        client.search<DocOf<F>>({ index, ...(body as estypes.SearchRequest) }, options),
      )
      return toResult<DocOf<F>, A>(response)
    } catch (error) {
      const fallback = (request.fallback ?? this.#fallback.search) as SearchFallback<DocOf<F>, A> | undefined
      return this.#fallBack(
        'search',
        index,
        error,
        fallback &&
          (async (failure: SearchError) => {
            const answer = await fallback(failure, { index, request: request as SearchRequest<any, any> })
            return {
              total: answer.total,
              took: 0,
              hits: answer.hits,
              aggregations: (answer.aggregations ?? {}) as SearchResult<DocOf<F>, A>['aggregations'],
              degraded: degradation(failure),
            }
          }),
      )
    }
  }

  /**
   * One document by id (`GET /<index>/_doc/<id>`), or `null` when there is none. An interactive
   * read like {@link search}: bounded, behind the breaker, answered by a fallback (then
   * `degraded` is set) when the engine cannot.
   *
   * @throws SearchUnavailableError `E_SEARCH_UNAVAILABLE` when the engine does not answer within the budget (no fallback)
   */
  async get<F extends FieldMap>(
    definition: IndexDefinition<F>,
    id: string,
    options: GetOptions<DocOf<F>> = {},
  ): Promise<GetResult<DocOf<F>> | null> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 512) {
      throw new SearchError('E_SEARCH_INVALID_VALUE', 'Document id must be a string of 1 to 512 characters', {
        index: definition.name,
      })
    }
    const index = options.index ?? definition.name
    try {
      const response = await this.#read(
        'get',
        index,
        { get: '?' },
        options.timeout,
        async (client, transport) => {
          try {
            return await client.get<DocOf<F>>({ index, id }, transport)
          } catch (error) {
            // A missing document is an answer (404 with `found: false`); a missing index is not.
            const body = (error as { body?: { found?: unknown } }).body
            if (engineError(error).status === 404 && body?.found === false) return null
            throw error
          }
        },
      )
      return response?.found && response._source !== undefined
        ? { id: response._id, source: response._source }
        : null
    } catch (error) {
      const fallback = (options.fallback ?? this.#fallback.get) as GetFallback<DocOf<F>> | undefined
      return this.#fallBack(
        'get',
        index,
        error,
        fallback &&
          (async (failure: SearchError) => {
            const source = await fallback(failure, { index, id })
            return source === null ? null : { id, source, degraded: degradation(failure) }
          }),
      )
    }
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
      if (!afterFitsSort(definition, body.sort as estypes.SortCombinations[], state.after)) {
        // Sent as is, a null where the engine expects a number is a 500 (a NullPointerException
        // on OpenSearch 2.19), not a refusal: check the values against the sort's field kinds.
        throw new SearchError(
          'E_SEARCH_INVALID_CURSOR',
          "Pagination cursor's search_after values do not fit the request's sort",
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
      // The engine refused what only the cursor brings (its point in time: expired, closed or
      // altered; its search_after values: of the wrong type or count for the sort): the cursor
      // is what is invalid, not the request.
      if (
        request.cursor !== undefined &&
        error instanceof SearchError &&
        error.code === 'E_SEARCH_ENGINE' &&
        (error.status === 400 || error.status === 404)
      ) {
        throw new SearchError(
          'E_SEARCH_INVALID_CURSOR',
          `Pagination cursor refused by the engine (its point in time expired, was closed or is unknown, or its search_after values do not fit the sort): ${error.message}`,
          { index, status: error.status, cause: error },
        )
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
   * An interactive read: bounded by `options.timeout` / `searchTimeout` and the breaker (no
   * fallback: a type-ahead box shows nothing, or the caller answers 503).
   * @returns suggested texts with their document ids
   * @throws SearchUnavailableError `E_SEARCH_UNAVAILABLE` when the engine does not answer within the budget
   */
  async suggest<F extends FieldMap>(
    definition: IndexDefinition<F>,
    field: CompletionFields<F>,
    prefix: string,
    options: { size?: number | undefined; index?: string | undefined; timeout?: Duration | undefined } = {},
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
    const response = await this.#read('suggest', index, body, options.timeout, (client, transport) =>
      client.search({ index, ...body }, transport),
    )
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

  /**
   * Cluster health plus search latency figures and the breaker's state; never throws, and
   * answers within `timeout` (the engine detection and the request included; default 5 s). Not
   * gated by the breaker: it is how an operator sees the engine while searches are refused.
   */
  async health(options: { timeout?: Duration | undefined } = {}): Promise<HealthReport> {
    const started = performance.now()
    const budgetMs = toMs(options.timeout ?? '5s', 'timeout')
    const controller = new AbortController()
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort()
        reject(DEADLINE)
      }, budgetMs)
    })
    const work = this.#connect().then(async ({ client, adapter }) => {
      const health = await client.cluster.health(
        { timeout: `${Math.max(1, Math.floor(budgetMs))}ms` },
        { signal: controller.signal, requestTimeout: budgetMs, maxRetries: this.#readRetries },
      )
      return { kind: adapter.kind, status: String(health.status).toLowerCase() as 'green' | 'yellow' | 'red' }
    })
    work.catch(dropLateOutcome)
    try {
      const { kind, status } = await Promise.race([work, deadline])
      return {
        ok: status !== 'red',
        engine: kind,
        status,
        latencyMs: performance.now() - started,
        searchLatency: this.#latency.snapshot(),
        breaker: this.#breaker.state,
      }
    } catch (error) {
      const failure =
        error === DEADLINE
          ? new SearchError('E_SEARCH_ENGINE', `Search engine health: no answer within ${budgetMs} ms`, {
              retriable: true,
            })
          : engineError(error)
      return {
        ok: false,
        engine: this.options.engine === 'opensearch' ? 'opensearch' : 'elasticsearch',
        status: failure.code === 'E_SEARCH_AUTH' ? 'unauthorized' : 'unreachable',
        latencyMs: performance.now() - started,
        searchLatency: this.#latency.snapshot(),
        breaker: this.#breaker.state,
        error: failure,
      }
    } finally {
      clearTimeout(timer)
    }
  }

  /** Figures of the interactive reads: calls, unavailable, refused by the breaker, fallbacks. */
  readStats(): Readonly<ReadStats> {
    return { ...this.#reads, breaker: this.#breaker.state }
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

const NUMERIC_SORT_KINDS: ReadonlySet<string> = new Set(['integer', 'long', 'double', 'scaled_float', 'date'])

/**
 * Whether cursor `after` values can be the `search_after` of `sort`: one value per clause (plus
 * Elasticsearch's implicit `_shard_doc` of a PIT search, a number), numbers for numeric, date
 * and score sorts, a string or null (a missing value) for keywords, a number or boolean for
 * booleans. What the engine itself returned always fits.
 */
function afterFitsSort<F extends FieldMap>(
  definition: IndexDefinition<F>,
  sort: readonly estypes.SortCombinations[],
  after: readonly unknown[],
): boolean {
  if (after.length !== sort.length && after.length !== sort.length + 1) return false
  const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v)
  for (let i = 0; i < after.length; i++) {
    const value = after[i]
    const clause = sort[i]
    if (clause === undefined) return isNumber(value)
    const name = typeof clause === 'string' ? clause : (Object.keys(clause)[0] as string)
    const kind = name === '_score' ? 'double' : definition.fieldDef(name).kind
    if (NUMERIC_SORT_KINDS.has(kind)) {
      if (!isNumber(value)) return false
    } else if (kind === 'boolean') {
      if (!isNumber(value) && typeof value !== 'boolean') return false
    } else if (typeof value !== 'string' && value !== null) return false
  }
  return true
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
