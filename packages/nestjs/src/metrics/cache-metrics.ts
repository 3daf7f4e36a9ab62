/**
 * Cache metrics read from each cache's `stats()` when Prometheus scrapes, so the cache's hot path
 * pays nothing for them (no listener, no per-call increment beyond the cache's own counters).
 * The series are `@ayala/cache`'s own table, `CACHE_METRICS` (name, help, type, labels and how to
 * read the values), registered as prom-client counters and gauges with a `cache` label (the
 * module name) in front of the table's labels: the same families as the cache's text exporter
 * `prometheusMetrics()`.
 */
import { CACHE_METRICS, type CacheMetricDescriptor, type CacheStats } from '@ayala/cache'
import { Counter, Gauge, type Registry } from 'prom-client'

/** Something with the `stats()` of an `@ayala/cache` cache, and the name it was registered under. */
export interface CacheStatsSource {
  /** The module name of the cache (`default` for the unnamed one). */
  readonly name: string
  /** The cache's counters. */
  stats(): CacheStats
}

type Snapshot = ReadonlyArray<{ readonly name: string; readonly stats: CacheStats }>

/** Set the samples of `metric` for every source; `put` is `Counter.inc` or `Gauge.set`. */
function collectInto(
  metric: CacheMetricDescriptor,
  snapshot: Snapshot,
  put: (labels: Record<string, string>, value: number) => void,
): void {
  for (const { name: cache, stats } of snapshot) {
    for (const { labels, value } of metric.read(stats)) put({ cache, ...labels }, value)
  }
}

/**
 * Register the cache metrics (every entry of `CACHE_METRICS`, named `<prefix><name>`) in
 * `registry`; `sources()` is called at each scrape and returns the caches to report (a cache that
 * is gone simply stops being reported). A metric already registered under that name is left as is.
 */
export function registerCacheMetrics(
  registry: Registry,
  prefix: string,
  sources: () => readonly CacheStatsSource[],
): void {
  const snapshot = (): Snapshot => sources().map((source) => ({ name: source.name, stats: source.stats() }))
  for (const metric of CACHE_METRICS) {
    const name = `${prefix}${metric.name}`
    if (registry.getSingleMetric(name)) continue
    const configuration = {
      name,
      help: metric.help,
      labelNames: ['cache', ...metric.labels],
      registers: [registry],
    }
    if (metric.type === 'counter') {
      new Counter<string>({
        ...configuration,
        collect() {
          this.reset()
          collectInto(metric, snapshot(), (labels, value) => this.inc(labels, value))
        },
      })
    } else {
      new Gauge<string>({
        ...configuration,
        collect() {
          this.reset()
          collectInto(metric, snapshot(), (labels, value) => this.set(labels, value))
        },
      })
    }
  }
}
