/**
 * Options of the performance interceptor and the metrics module, validated once into a frozen
 * {@link ResolvedPerformanceOptions} from {@link DEFAULT_PERFORMANCE_OPTIONS}.
 */
import type { Registry } from 'prom-client'
import { type Duration, toMilliseconds } from '../duration.js'
import { rejectUnknownOptions } from '../dynamic-module.js'
import { InvalidOptionError } from '../errors.js'
import type { RequestCacheStats } from './request-cache-stats.js'

/** What the slow-request event and callback receive. */
export interface SlowRequestEvent {
  /** `http`, `rpc`, `graphql` or `ws` (Nest's `ExecutionContext.getType()`). */
  transport: string
  /**
   * HTTP method; for GraphQL the operation type (`QUERY`, `MUTATION`, `SUBSCRIPTION`); for a
   * microservice handler its transport (`REDIS`, `TCP`, `KAFKA`, `GRPC`, ..., `RPC` when unknown);
   * the transport name (`WS`) elsewhere.
   */
  method: string
  /**
   * The route pattern (`/invoices/:id`); for GraphQL the resolved schema field
   * (`Query.invoice`, `Invoice.client`); for a microservice handler its `@MessagePattern` /
   * `@EventPattern` (`invoice.find`, `{"cmd":"find","v":1}`: see `messagePatternRoute`);
   * `Controller.handler` elsewhere.
   */
  route: string
  /** The response status (HTTP), or `500` / `200` for failed / succeeded calls elsewhere. */
  statusCode: number
  /** How long the handler took (interceptor to response), milliseconds. */
  durationMs: number
  /** The threshold that was crossed, milliseconds. */
  thresholdMs: number
  /** Cache activity during the request, when the breakdown is on. */
  cache: Readonly<RequestCacheStats> | undefined
}

/** Options of `AyalaMetricsModule.forRoot` and of the {@link PerformanceInterceptor}. */
export interface PerformanceOptions {
  /** The prom-client registry the metrics are registered in. @default a new `Registry` owned by the module */
  registry?: Registry | undefined
  /** Prefix of every metric name. @default 'ayala_' */
  prefix?: string | undefined
  /** A request slower than this emits the slow-request event and a warning. @default '500ms' */
  slowThreshold?: Duration | undefined
  /** Write a Nest `Logger.warn` line for each slow request. @default true */
  logSlowRequests?: boolean | undefined
  /** Called for each slow request (after the event is emitted). Errors it throws are logged. */
  onSlowRequest?: ((event: SlowRequestEvent) => void) | undefined
  /** Histogram buckets of the request duration, in seconds. @default [0.001, ..., 10] */
  buckets?: readonly number[] | undefined
  /**
   * Quantiles of an extra request-duration summary,
   * `<prefix>http_request_duration_quantiles_seconds{method,route,quantile}`, computed in process
   * over a sliding window, e.g. `[0.5, 0.95, 0.99]`. Off by default: a summary's quantiles cannot
   * be aggregated across instances or windows; use `histogram_quantile` on the histogram's
   * buckets instead (which is what the shipped Grafana dashboard does). `false`: no summary.
   * @default false (it used to be `[0.5, 0.95, 0.99]`: pass that to keep the summary)
   */
  quantiles?: readonly number[] | false | undefined
  /** Sliding window of the quantile summary (when `quantiles` is on). @default '10m' */
  quantileWindow?: Duration | undefined
  /**
   * Measure streaming responses like any request: Server-Sent Events (`@Sse()` handlers and
   * responses sent as `text/event-stream`) and the `streamRoutes`. Off by default: a stream's
   * duration is how long the client stayed connected, so it would skew the latency histogram and
   * fire a slow-request alert at every disconnect. Streams left out are counted, when they end,
   * in `<prefix>http_streams_total{method,route}` and emit no `request` event.
   * @default false
   */
  measureStreams?: boolean | undefined
  /**
   * Routes (patterns as reported in the `route` label, e.g. `'/jobs/:id/wait'`) that are streams
   * although they are not SSE: long polls, chunked downloads. Treated as SSE routes are (see
   * `measureStreams`). @default []
   */
  streamRoutes?: readonly string[] | undefined
  /**
   * Also export the search client's latency the old way, as the gauge
   * `<prefix>search_latency_seconds{quantile}` (p50/p90/p99/max since start), next to the
   * histogram `<prefix>search_request_duration_seconds`. Kept for one minor version so dashboards
   * can move to `histogram_quantile` over the histogram.
   * @deprecated The gauge cannot be aggregated across instances or windows (and `promtool check
   * metrics` rejects it); query `<prefix>search_request_duration_seconds_bucket` instead.
   * @default false
   */
  legacySearchLatencyGauge?: boolean | undefined
  /** Count cache hits, misses, stale values and coalesced waits per route. @default true */
  cacheBreakdown?: boolean | undefined
  /** Routes (patterns as reported in the `route` label) that are not measured. @default ['/metrics'] */
  ignoreRoutes?: readonly string[] | undefined
  /**
   * Names of the `AyalaCacheModule` caches whose `stats()` are exported (read at each scrape;
   * a name with no registered cache is skipped). `false`: no cache metrics. @default ['default']
   */
  caches?: readonly string[] | false | undefined
  /**
   * Deadline of each async collector at scrape time (consumer lag: Kafka and Redis; outbox
   * backlog: the database; search sync: the database and the engine). A collector that does not
   * answer within it is reported down (`<prefix>collector_up{collector} 0`) and its series are
   * left out of that scrape, so a scrape answers within about this long whatever is down.
   * @default '2s'
   */
  collectTimeout?: Duration | undefined
}

/** Default values of {@link PerformanceOptions}. */
export const DEFAULT_PERFORMANCE_OPTIONS = Object.freeze({
  prefix: 'ayala_',
  slowThreshold: '500ms',
  logSlowRequests: true,
  buckets: Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
  quantiles: false,
  quantileWindow: '10m',
  measureStreams: false,
  streamRoutes: Object.freeze([]),
  legacySearchLatencyGauge: false,
  cacheBreakdown: true,
  ignoreRoutes: Object.freeze(['/metrics']),
  caches: Object.freeze(['default']),
  collectTimeout: '2s',
} as const)

/** {@link PerformanceOptions} after validation. */
export interface ResolvedPerformanceOptions {
  readonly registry: Registry | undefined
  readonly prefix: string
  readonly slowThresholdMs: number
  readonly logSlowRequests: boolean
  readonly onSlowRequest: ((event: SlowRequestEvent) => void) | undefined
  readonly buckets: readonly number[]
  readonly quantiles: readonly number[] | false
  readonly quantileWindowMs: number
  readonly measureStreams: boolean
  readonly streamRoutes: ReadonlySet<string>
  readonly legacySearchLatencyGauge: boolean
  readonly cacheBreakdown: boolean
  readonly ignoreRoutes: ReadonlySet<string>
  readonly caches: readonly string[]
  /** Deadline of each async collector at scrape time, in ms. */
  readonly collectTimeoutMs: number
}

const KNOWN = new Set([...Object.keys(DEFAULT_PERFORMANCE_OPTIONS), 'registry', 'onSlowRequest'])

/** Validate `options` (unknown options are rejected by name) and freeze the result. */
export function resolvePerformanceOptions(options: PerformanceOptions = {}): ResolvedPerformanceOptions {
  rejectUnknownOptions(options, KNOWN)
  const prefix = options.prefix ?? DEFAULT_PERFORMANCE_OPTIONS.prefix
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:]?[a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new InvalidOptionError(
      'prefix',
      'expected a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)',
    )
  }
  const buckets = options.buckets ?? DEFAULT_PERFORMANCE_OPTIONS.buckets
  if (
    !Array.isArray(buckets) ||
    buckets.length === 0 ||
    buckets.some((b, i) => typeof b !== 'number' || !(b > 0) || (i > 0 && b <= (buckets[i - 1] as number)))
  ) {
    throw new InvalidOptionError(
      'buckets',
      'expected a non-empty increasing list of positive numbers (seconds)',
    )
  }
  const quantiles: readonly number[] | false = options.quantiles ?? DEFAULT_PERFORMANCE_OPTIONS.quantiles
  if (quantiles !== false && (!Array.isArray(quantiles) || quantiles.some((q) => !(q > 0 && q < 1)))) {
    throw new InvalidOptionError(
      'quantiles',
      'expected false or a list of numbers between 0 and 1 (exclusive)',
    )
  }
  for (const name of [
    'logSlowRequests',
    'cacheBreakdown',
    'measureStreams',
    'legacySearchLatencyGauge',
  ] as const) {
    const value = options[name]
    if (value !== undefined && typeof value !== 'boolean')
      throw new InvalidOptionError(name, 'expected a boolean')
  }
  if (options.onSlowRequest !== undefined && typeof options.onSlowRequest !== 'function') {
    throw new InvalidOptionError('onSlowRequest', 'expected a function')
  }
  const ignoreRoutes = options.ignoreRoutes ?? DEFAULT_PERFORMANCE_OPTIONS.ignoreRoutes
  if (!Array.isArray(ignoreRoutes) || ignoreRoutes.some((r) => typeof r !== 'string')) {
    throw new InvalidOptionError('ignoreRoutes', 'expected a list of route patterns')
  }
  const streamRoutes = options.streamRoutes ?? DEFAULT_PERFORMANCE_OPTIONS.streamRoutes
  if (!Array.isArray(streamRoutes) || streamRoutes.some((r) => typeof r !== 'string')) {
    throw new InvalidOptionError('streamRoutes', 'expected a list of route patterns')
  }
  const caches = options.caches ?? DEFAULT_PERFORMANCE_OPTIONS.caches
  if (caches !== false && (!Array.isArray(caches) || caches.some((c) => typeof c !== 'string' || c === ''))) {
    throw new InvalidOptionError('caches', 'expected false or a list of cache names')
  }
  return Object.freeze({
    registry: options.registry,
    prefix,
    slowThresholdMs: toMilliseconds(
      options.slowThreshold ?? DEFAULT_PERFORMANCE_OPTIONS.slowThreshold,
      'slowThreshold',
    ),
    logSlowRequests: options.logSlowRequests ?? DEFAULT_PERFORMANCE_OPTIONS.logSlowRequests,
    onSlowRequest: options.onSlowRequest,
    buckets: Object.freeze([...buckets]),
    quantiles: quantiles === false ? false : Object.freeze([...quantiles]),
    quantileWindowMs: toMilliseconds(
      options.quantileWindow ?? DEFAULT_PERFORMANCE_OPTIONS.quantileWindow,
      'quantileWindow',
    ),
    measureStreams: options.measureStreams ?? DEFAULT_PERFORMANCE_OPTIONS.measureStreams,
    streamRoutes: new Set<string>(streamRoutes),
    legacySearchLatencyGauge:
      options.legacySearchLatencyGauge ?? DEFAULT_PERFORMANCE_OPTIONS.legacySearchLatencyGauge,
    cacheBreakdown: options.cacheBreakdown ?? DEFAULT_PERFORMANCE_OPTIONS.cacheBreakdown,
    ignoreRoutes: new Set(ignoreRoutes),
    caches: caches === false ? Object.freeze([]) : Object.freeze([...caches]),
    collectTimeoutMs: toMilliseconds(
      options.collectTimeout ?? DEFAULT_PERFORMANCE_OPTIONS.collectTimeout,
      'collectTimeout',
    ),
  })
}
