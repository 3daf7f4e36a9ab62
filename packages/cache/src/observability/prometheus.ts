/**
 * Prometheus text exposition of `cache.stats()`, with no dependency: serve the string from a
 * `/metrics` route, or feed the same numbers to prom-client / OpenTelemetry observable
 * instruments (see docs/cache-observability.md).
 */
import type { CacheStats } from './channels.js'

/** Anything with a `stats()` snapshot (a `Cache`). */
export interface HasStats {
  stats(): CacheStats
}

const COUNTERS: ReadonlyArray<[keyof CacheStats, string, string]> = [
  ['l1Hits', 'ayala_cache_hits_total{tier="l1"', 'Hits served by a tier.'],
  ['l2Hits', 'ayala_cache_hits_total{tier="l2"', ''],
  ['misses', 'ayala_cache_misses_total{', 'Reads that missed both tiers.'],
  ['staleServed', 'ayala_cache_stale_served_total{', 'Stale values served by grace.'],
  ['loaderCalls', 'ayala_cache_loader_calls_total{', 'Loader runs.'],
  ['loaderErrors', 'ayala_cache_loader_errors_total{', 'Loader runs that failed.'],
  ['loaderTimeMs', 'ayala_cache_loader_seconds_total{', 'Time spent in loaders.'],
  ['coalesced', 'ayala_cache_coalesced_total{', 'Callers that joined a load already in flight.'],
  ['leaseWaits', 'ayala_cache_lease_waits_total{', 'Misses that waited for another process lease.'],
  ['busIn', 'ayala_cache_bus_messages_total{direction="in"', 'Bus messages.'],
  ['busOut', 'ayala_cache_bus_messages_total{direction="out"', ''],
  ['l2Errors', 'ayala_cache_l2_errors_total{', 'Redis errors tolerated (fell back).'],
  ['corruptEntries', 'ayala_cache_corrupt_entries_total{', 'Unreadable entries read as misses.'],
]

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** Render the counters and gauges of one or more caches in the Prometheus text format. */
export function prometheusMetrics(caches: HasStats | readonly HasStats[]): string {
  const list = Array.isArray(caches) ? caches : [caches as HasStats]
  const snapshots = list.map((c) => c.stats())
  const lines: string[] = []
  const seen = new Set<string>()
  for (const [field, series, help] of COUNTERS) {
    const name = series.slice(0, series.indexOf('{'))
    if (!seen.has(name)) {
      seen.add(name)
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`)
    }
    const extra = series.slice(series.indexOf('{') + 1)
    for (const s of snapshots) {
      const labels = `namespace="${escapeLabel(s.namespace)}"${extra ? `,${extra}` : ''}`
      const value = field === 'loaderTimeMs' ? (s[field] as number) / 1000 : (s[field] as number)
      lines.push(`${name}{${labels}} ${value}`)
    }
  }
  const gauges: Array<[string, string, (s: CacheStats) => number]> = [
    ['ayala_cache_l1_entries', 'Entries in L1.', (s) => s.l1Entries],
    ['ayala_cache_l1_bytes', 'Estimated L1 bytes.', (s) => s.l1Bytes],
    [
      'ayala_cache_bus_connected',
      '1 while the bus subscriber is connected.',
      (s) => (s.busConnected ? 1 : 0),
    ],
    ['ayala_cache_bus_lag_seconds', 'Lag of the last bus message received.', (s) => s.busLastLagMs / 1000],
    [
      'ayala_cache_breaker_open',
      '1 while the Redis circuit breaker is open or half-open.',
      (s) => (s.breaker === 'open' || s.breaker === 'half-open' ? 1 : 0),
    ],
  ]
  for (const [name, help, read] of gauges) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
    for (const s of snapshots) lines.push(`${name}{namespace="${escapeLabel(s.namespace)}"} ${read(s)}`)
  }
  return `${lines.join('\n')}\n`
}
