/**
 * Prometheus text exposition of `cache.stats()`, with no dependency: serve the string from a
 * `/metrics` route. The series are those of {@link CACHE_METRICS} (the one table every exporter
 * uses, prom-client and OpenTelemetry included; see docs/cache-observability.md).
 */
import { rejectUnknownOptions } from '../options.js'
import type { CacheStats } from './channels.js'
import { CACHE_METRICS } from './metrics.js'

/** Anything with a `stats()` snapshot (a `Cache`). */
export interface HasStats {
  stats(): CacheStats
}

/** Options of {@link prometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /** Put before every metric name of {@link CACHE_METRICS}. @default 'ayala_' */
  prefix?: string | undefined
}

const PROMETHEUS_KEYS: ReadonlySet<string> = new Set(['prefix'])

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/**
 * Render the metrics of {@link CACHE_METRICS} for one or more caches in the Prometheus text
 * format (one `# HELP` / `# TYPE` pair per metric, one sample line per cache and label set).
 */
export function prometheusMetrics(
  caches: HasStats | readonly HasStats[],
  options?: PrometheusMetricsOptions,
): string {
  if (options !== undefined) rejectUnknownOptions(options, PROMETHEUS_KEYS)
  const prefix = options?.prefix ?? 'ayala_'
  const list = Array.isArray(caches) ? caches : [caches as HasStats]
  const snapshots = list.map((c) => c.stats())
  const lines: string[] = []
  for (const metric of CACHE_METRICS) {
    const name = prefix + metric.name
    lines.push(`# HELP ${name} ${metric.help}`, `# TYPE ${name} ${metric.type}`)
    for (const stats of snapshots) {
      for (const { labels, value } of metric.read(stats)) {
        const rendered = metric.labels.map((label) => `${label}="${escapeLabel(labels[label] ?? '')}"`)
        lines.push(`${name}{${rendered.join(',')}} ${value}`)
      }
    }
  }
  return `${lines.join('\n')}\n`
}
