/**
 * Search and metrics-stream figures for Prometheus, read at scrape time from the providers the
 * `AyalaSearchModule` and `AyalaMetricsStreamModule` registered (nothing is counted on their hot
 * paths by this module). A provider that is not registered is simply not reported.
 *
 * The consumer lag reads Kafka (watermarks) and Redis (applied offsets): it is a
 * {@link BoundedSource} (`stream_lag`), so a scrape with either down answers within
 * `collectTimeout` and says so (`collector_up{collector="stream_lag"} 0`). The dashboard's
 * figures (`stream_dashboard_*`) are its in-process counters: no call at all.
 */
import { Counter, Gauge, type Metric, type Registry } from 'prom-client'
import { BoundedSource } from './bounded-source.js'

/** How the async collectors of a register function are bounded (see `bounded-source.ts`). */
export interface CollectorOptions {
  /** Deadline of each async read at scrape time, ms. @default 2000 */
  collectTimeoutMs?: number | undefined
  /** The bounded sources created are added here (for `collector_up`). */
  collectors?: Array<BoundedSource<unknown>> | undefined
}

/** What is read from an `@ayala/metrics-stream` `Dashboard`. */
export interface DashboardStatsSource {
  stats(): {
    subscribed: boolean
    breaker: 'closed' | 'open' | 'half-open'
    readFailures: number
    staleReads: number
    unavailableReads: number
  }
}

/** What is read from an `@ayala/search` `SearchClient`. */
export interface SearchStatsSource {
  latency(): {
    count: number
    p50: number
    p90: number
    p99: number
    max: number
    /** Sum of the latencies, ms (`@ayala/search` since the latency histogram). */
    sum?: number | undefined
    /** Cumulative counts at fixed bounds `le` (ms), the last `Infinity`. */
    buckets?: ReadonlyArray<{ le: number; count: number }> | undefined
  }
  bulkStats(): { indexed: number; failed: number; retries: number; requests: number; bytes: number }
}

/** Options of {@link registerSearchMetrics}. */
export interface SearchMetricsOptions {
  /**
   * Also register the old gauge `<prefix>search_latency_seconds{quantile}`.
   * @deprecated see `PerformanceOptions.legacySearchLatencyGauge`. @default false
   */
  legacyLatencyGauge?: boolean | undefined
}

/** What is read from an `@ayala/metrics-stream` `MetricsConsumer`. */
export interface ConsumerStatsSource {
  stats(): {
    applied: number
    duplicates: number
    late: number
    deadLettered: number
    chunks: number
    fenced: number
    retries: number
    scriptMsTotal: number
  }
  lag(): Promise<ReadonlyArray<{ topic: string; partition: number; lag: number }>>
}

function counter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  collect: (set: (labels: Record<string, string>, value: number) => void) => void,
): void {
  if (registry.getSingleMetric(name)) return
  new Counter<string>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset()
      collect((labels, value) => this.inc(labels, value))
    },
  })
}

/** One histogram sample as prom-client's registry writes it. */
interface HistogramValue {
  metricName: string
  labels: Record<string, string | number>
  value: number
}

/**
 * The search latency as a Prometheus histogram, `<prefix>search_request_duration_seconds`
 * (`_bucket{le}`, `_sum`, `_count`, seconds), read at scrape time from the client's fixed-bound
 * counts (`latency().buckets`): a prom-client `Histogram` cannot be set from counts kept
 * elsewhere, so this is a metric object of its own in the registry. A client whose snapshot has
 * no buckets (an `@ayala/search` older than the histogram) gives no samples.
 */
function registerSearchLatencyHistogram(
  registry: Registry,
  name: string,
  source: () => SearchStatsSource | undefined,
): void {
  if (registry.getSingleMetric(name)) return
  const help = 'Client-side duration of searches, seconds'
  const read = () => {
    const values: HistogramValue[] = []
    const latency = source()?.latency()
    if (latency?.buckets !== undefined && latency.buckets.length > 0) {
      for (const bucket of latency.buckets) {
        const le = bucket.le === Number.POSITIVE_INFINITY ? '+Inf' : bucket.le / 1000
        values.push({ metricName: `${name}_bucket`, labels: { le }, value: bucket.count })
      }
      values.push({ metricName: `${name}_sum`, labels: {}, value: (latency.sum ?? 0) / 1000 })
      values.push({ metricName: `${name}_count`, labels: {}, value: latency.count })
    }
    return { name, help, type: 'histogram', aggregator: 'sum', values }
  }
  const metric = { name, help, type: 'histogram', aggregator: 'sum', get: read, reset: () => undefined }
  registry.registerMetric(metric as unknown as Metric)
}

/**
 * Register the search client metrics; `source()` returns the client at scrape time (or undefined):
 * the latency histogram `<prefix>search_request_duration_seconds`, `search_requests_total` and
 * the bulk totals.
 */
export function registerSearchMetrics(
  registry: Registry,
  prefix: string,
  source: () => SearchStatsSource | undefined,
  options: SearchMetricsOptions = {},
): void {
  registerSearchLatencyHistogram(registry, `${prefix}search_request_duration_seconds`, source)
  const latencyName = `${prefix}search_latency_seconds`
  if (options.legacyLatencyGauge === true && !registry.getSingleMetric(latencyName)) {
    new Gauge<'quantile'>({
      name: latencyName,
      help: 'Deprecated (use search_request_duration_seconds): client-side search latency quantiles since start (1 = max), seconds',
      labelNames: ['quantile'],
      registers: [registry],
      collect() {
        this.reset()
        const latency = source()?.latency()
        if (latency === undefined || latency.count === 0) return
        this.set({ quantile: '0.5' }, latency.p50 / 1000)
        this.set({ quantile: '0.9' }, latency.p90 / 1000)
        this.set({ quantile: '0.99' }, latency.p99 / 1000)
        this.set({ quantile: '1' }, latency.max / 1000)
      },
    })
  }
  counter(registry, `${prefix}search_requests_total`, 'Searches sent', [], (set) => {
    const latency = source()?.latency()
    if (latency !== undefined) set({}, latency.count)
  })
  counter(
    registry,
    `${prefix}search_bulk_documents_total`,
    'Documents bulk-indexed, by result',
    ['result'],
    (set) => {
      const bulk = source()?.bulkStats()
      if (bulk === undefined) return
      set({ result: 'indexed' }, bulk.indexed)
      set({ result: 'failed' }, bulk.failed)
    },
  )
  counter(registry, `${prefix}search_bulk_requests_total`, 'Bulk requests sent', [], (set) => {
    const bulk = source()?.bulkStats()
    if (bulk !== undefined) set({}, bulk.requests)
  })
  counter(registry, `${prefix}search_bulk_retries_total`, 'Bulk retries (requests and items)', [], (set) => {
    const bulk = source()?.bulkStats()
    if (bulk !== undefined) set({}, bulk.retries)
  })
}

/** Register the metrics-stream consumer metrics; `source()` returns the consumer (or undefined). */
export function registerConsumerMetrics(
  registry: Registry,
  prefix: string,
  source: () => ConsumerStatsSource | undefined,
  options: CollectorOptions = {},
): void {
  const lag = new BoundedSource('stream_lag', options.collectTimeoutMs ?? 2_000, () => source()?.lag())
  options.collectors?.push(lag as BoundedSource<unknown>)
  const rows = [
    ['applied', 'Events applied to Redis'],
    ['duplicates', 'Records skipped as already applied (redelivery)'],
    ['late', 'Events beyond the allowed lateness'],
    ['deadLettered', 'Records sent to the dead-letter topic'],
    ['chunks', 'Apply scripts run'],
    ['fenced', 'Partitions found claimed by another member'],
    ['retries', 'Redis or Kafka failures retried'],
  ] as const
  for (const [field, help] of rows) {
    const snake = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
    counter(registry, `${prefix}stream_${snake}_total`, help, [], (set) => {
      const stats = source()?.stats()
      if (stats !== undefined) set({}, stats[field])
    })
  }
  counter(registry, `${prefix}stream_script_seconds_total`, 'Time in apply scripts, seconds', [], (set) => {
    const stats = source()?.stats()
    if (stats !== undefined) set({}, stats.scriptMsTotal / 1000)
  })
  const lagName = `${prefix}stream_consumer_lag`
  if (!registry.getSingleMetric(lagName)) {
    new Gauge<'topic' | 'partition'>({
      name: lagName,
      help: 'Records written to Kafka and not yet applied to Redis, per partition',
      labelNames: ['topic', 'partition'],
      registers: [registry],
      async collect() {
        this.reset()
        for (const p of (await lag.value()) ?? [])
          this.set({ topic: p.topic, partition: String(p.partition) }, p.lag)
      },
    })
  }
}

/**
 * Register the dashboard's read figures (its in-process counters, no Redis call):
 * `stream_dashboard_redis_up` (0 while the read breaker is open), `stream_dashboard_subscribed`,
 * and the totals of reads Redis could not answer, answered stale, or refused.
 */
export function registerDashboardMetrics(
  registry: Registry,
  prefix: string,
  source: () => DashboardStatsSource | undefined,
): void {
  const gauges = [
    [
      `${prefix}stream_dashboard_redis_up`,
      "0 while the dashboard's read breaker is open (Redis did not answer its last reads), else 1",
      (s: ReturnType<DashboardStatsSource['stats']>) => (s.breaker === 'open' ? 0 : 1),
    ],
    [
      `${prefix}stream_dashboard_subscribed`,
      '1 while the change notices flow (the in-process copy is in use), else 0',
      (s: ReturnType<DashboardStatsSource['stats']>) => (s.subscribed ? 1 : 0),
    ],
  ] as const
  for (const [name, help, read] of gauges) {
    if (registry.getSingleMetric(name)) continue
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset()
        const stats = source()?.stats()
        if (stats !== undefined) this.set(read(stats))
      },
    })
  }
  const totals = [
    [
      'readFailures',
      'read_failures',
      'Dashboard reads Redis did not answer (deadline passed, connection failed)',
    ],
    ['staleReads', 'stale_reads', 'Dashboard reads answered with the last snapshot, marked stale'],
    [
      'unavailableReads',
      'unavailable_reads',
      'Dashboard reads refused with E_STREAM_UNAVAILABLE (no snapshot to serve)',
    ],
  ] as const
  for (const [field, snake, help] of totals) {
    counter(registry, `${prefix}stream_dashboard_${snake}_total`, help, [], (set) => {
      const stats = source()?.stats()
      if (stats !== undefined) set({}, stats[field])
    })
  }
}
