/**
 * Options of a search client: one `DEFAULT_SEARCH_CLIENT_OPTIONS`, resolved and validated once
 * into a frozen object (durations in ms) that holds no secret (credentials and TLS are kept aside
 * by `credentials.ts`), so `client.options` is safe to log.
 */
import type { Client } from '@elastic/elasticsearch'
import { type Duration, toMs } from '../duration.js'
import { SearchError } from '../errors.js'
import { checkOptionKeys, renamed } from '../option-keys.js'
import type { GetFallback, SearchFallback } from '../query/types.js'
import type { EngineKind } from './adapters.js'
import {
  borrowedCredentials,
  type ExtraClientOptions,
  keepSecrets,
  resolveCredentials,
  type SearchAuth,
  type SearchTlsOptions,
} from './credentials.js'

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
   * are moved to `auth` (and never shown); give them in one place only. Give `node` or `client`.
   */
  node?: string | string[] | undefined
  /**
   * An official `@elastic/elasticsearch` 8.x/9.x `Client` the application already has (e.g.
   * `@nestjs/elasticsearch`'s `ElasticsearchService`), used instead of one built from `node`.
   * Borrowed: `close()` never closes it. Its own settings apply (nodes, credentials, TLS, request
   * timeout, retries), so `node`, `auth`, `tls`, `clientOptions`, `requestTimeout` and `retries`
   * are refused beside it. The engine is read through it once before the first request (`GET /`);
   * a client that cannot talk to that engine (an Elastic client's product check or
   * `compatible-with` media types against OpenSearch: build it with `Transport:
   * OpenSearchTransport`) fails with `E_SEARCH_CLIENT_ENGINE`. An
   * `@opensearch-project/opensearch` client is refused (`E_SEARCH_INVALID_OPTION`).
   * @default none
   */
  client?: Client | undefined
  /**
   * Engine flavour; `auto` reads `GET /` once before the first request. With `client`, the
   * engine is read anyway and must be the one named here. @default 'auto'
   */
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
  /**
   * Transport-level retries (tries after the first) of connection errors and 502-504; interactive
   * reads retry on other nodes only (`min(retries, nodes - 1)`). @default 3
   */
  retries?: number | undefined
  /**
   * @deprecated Renamed {@link SearchClientOptions.retries} (same meaning); removed in the next
   * minor version. One `DeprecationWarning` (`AYALA_SEARCH_MAXRETRIES`); both names given is
   * `E_SEARCH_INVALID_OPTION`.
   */
  maxRetries?: number | undefined
  /** A search slower than this emits a `slow-query` event (ms or `'500ms'`). @default '500ms' */
  slowQueryThreshold?: Duration | undefined
  /**
   * Extra options for the official client (compression, headers...), passed through as they are
   * (its own keys are not checked here). `node`/`Transport` are set by this package; `auth` and
   * `tls` here are accepted too (prefer the options above).
   */
  clientOptions?: ExtraClientOptions | undefined
}

/** Every key of {@link SearchClientOptions}: any other is refused by name. */
const KNOWN_CLIENT_OPTIONS: ReadonlySet<string> = new Set([
  'node',
  'client',
  'engine',
  'auth',
  'tls',
  'searchTimeout',
  'breakerThreshold',
  'breakerCooldown',
  'fallback',
  'requestTimeout',
  'retries',
  'maxRetries',
  'slowQueryThreshold',
  'clientOptions',
])

const MAX_RETRIES = { from: 'maxRetries', to: 'retries', code: 'AYALA_SEARCH_MAXRETRIES' } as const

/** Defaults of {@link SearchClientOptions}. */
export const DEFAULT_SEARCH_CLIENT_OPTIONS = Object.freeze({
  engine: 'auto' as EngineKind | 'auto',
  searchTimeout: '1s' as Duration,
  breakerThreshold: 5,
  breakerCooldown: '2s' as Duration,
  requestTimeout: '30s' as Duration,
  retries: 3,
  /** @deprecated The default of `retries`, under its old name. */
  maxRetries: 3,
  slowQueryThreshold: '500ms' as Duration,
})

/** Resolved, frozen options of a search client (no secret: safe to log). */
export interface ResolvedSearchClientOptions {
  /** Node URLs, without credentials (with `client`: those of its connection pool at creation). */
  readonly nodes: readonly string[]
  /** Whether the official client was given (`client`): borrowed, never closed by `close()`. */
  readonly borrowed: boolean
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
  /** Per-request timeout of everything else, in ms (with `client`: the client's own applies). */
  readonly requestTimeoutMs: number
  /** Transport retries (interactive reads: `min(retries, nodes - 1)`). */
  readonly retries: number
  /** @deprecated The same as {@link ResolvedSearchClientOptions.retries}. */
  readonly maxRetries: number
  /** Slow-query threshold, in ms. */
  readonly slowQueryMs: number
  /** The official client's extra options, without `auth`, `tls` and an `authorization` header. */
  readonly clientOptions: ExtraClientOptions
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
 * @throws SearchError `E_SEARCH_INVALID_OPTION` for an unknown or bad option, an option given
 *   under both its names, or credentials given twice
 */
export function resolveSearchClientOptions(options: SearchClientOptions): ResolvedSearchClientOptions {
  checkOptionKeys(options, KNOWN_CLIENT_OPTIONS, 'createSearchClient')
  const borrowed = options.client !== undefined
  if (!borrowed && options.node === undefined) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'give node (engine URLs) or client (an official Client)')
  }
  const credentials = borrowed
    ? borrowedCredentials(options as unknown as Record<string, unknown>)
    : resolveCredentials({ ...options, node: options.node as string | string[] })
  const engine = options.engine ?? DEFAULT_SEARCH_CLIENT_OPTIONS.engine
  if (!['auto', 'elasticsearch', 'opensearch'].includes(engine)) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `engine must be 'elasticsearch', 'opensearch' or 'auto'`)
  }
  const given = renamed<number>(options, MAX_RETRIES, 'createSearchClient')
  const retries = given.value ?? DEFAULT_SEARCH_CLIENT_OPTIONS.retries
  if (!Number.isInteger(retries) || retries < 0) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `${given.name} must be a non-negative integer`)
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
  const resolved: ResolvedSearchClientOptions = Object.freeze({
    nodes: credentials.nodes,
    borrowed,
    engine,
    credentials: credentials.credentials,
    customCa: credentials.customCa,
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
    retries,
    maxRetries: retries,
    slowQueryMs: toMs(
      options.slowQueryThreshold ?? DEFAULT_SEARCH_CLIENT_OPTIONS.slowQueryThreshold,
      'slowQueryThreshold',
    ),
    clientOptions: credentials.clientOptions,
  })
  keepSecrets(resolved, credentials.secrets)
  return resolved
}
