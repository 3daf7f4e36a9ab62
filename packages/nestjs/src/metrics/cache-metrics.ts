/**
 * Cache metrics read from each cache's `stats()` when Prometheus scrapes, so the cache's hot path
 * pays nothing for them (no listener, no per-call increment beyond the cache's own counters).
 * Monotonic figures are exposed as counters (`_total`), the current state as gauges.
 */
import type { CacheStats } from '@ayala/cache'
import { Counter, Gauge, type Registry } from 'prom-client'

/** Something with the `stats()` of an `@ayala/cache` cache, and the name it was registered under. */
export interface CacheStatsSource {
  /** The module name of the cache (`default` for the unnamed one). */
  readonly name: string
  /** The cache's counters. */
  stats(): CacheStats
}

type Labels = 'cache' | 'namespace'

const COUNTERS: ReadonlyArray<readonly [string, string, (s: CacheStats) => number, Record<string, string>?]> =
  [
    ['cache_hits_total', 'Cache hits by tier', (s) => s.l1Hits, { tier: 'l1' }],
    ['cache_hits_total', 'Cache hits by tier', (s) => s.l2Hits, { tier: 'l2' }],
    ['cache_misses_total', 'Lookups that missed both tiers', (s) => s.misses],
    ['cache_stale_served_total', 'Stale values served (grace)', (s) => s.staleServed],
    ['cache_loader_calls_total', 'Loader runs', (s) => s.loaderCalls],
    ['cache_loader_errors_total', 'Loader runs that failed', (s) => s.loaderErrors],
    ['cache_loader_seconds_total', 'Time spent in loaders, seconds', (s) => s.loaderTimeMs / 1000],
    ['cache_coalesced_total', 'Callers that joined a load in flight', (s) => s.coalesced],
    ['cache_lease_waits_total', 'Waits on another process lease', (s) => s.leaseWaits],
    ['cache_l2_errors_total', 'Redis errors the cache tolerated (fell back)', (s) => s.l2Errors],
    [
      'cache_corrupt_entries_total',
      'Unreadable entries found in Redis (read as misses)',
      (s) => s.corruptEntries,
    ],
    ['cache_bus_messages_total', 'Invalidation messages on the bus', (s) => s.busIn, { direction: 'in' }],
    ['cache_bus_messages_total', 'Invalidation messages on the bus', (s) => s.busOut, { direction: 'out' }],
  ]

const GAUGES: ReadonlyArray<readonly [string, string, (s: CacheStats) => number]> = [
  ['cache_l1_entries', 'Entries in the in-process tier', (s) => s.l1Entries],
  ['cache_l1_bytes', 'Estimated bytes in the in-process tier', (s) => s.l1Bytes],
  [
    'cache_bus_connected',
    '1 while the invalidation bus subscriber is connected',
    (s) => (s.busConnected ? 1 : 0),
  ],
  ['cache_bus_lag_seconds', 'Lag of the last bus message received, seconds', (s) => s.busLastLagMs / 1000],
]

const BREAKER_STATES = ['closed', 'half-open', 'open', 'none'] as const

/**
 * Register the cache metrics in `registry`; `sources()` is called at each scrape and returns
 * the caches to report (a cache that is gone simply stops being reported).
 */
export function registerCacheMetrics(
  registry: Registry,
  prefix: string,
  sources: () => readonly CacheStatsSource[],
): void {
  const snapshot = () => sources().map((source) => ({ name: source.name, stats: source.stats() }))
  const counters = new Map<string, Array<(typeof COUNTERS)[number]>>()
  for (const row of COUNTERS) counters.set(row[0], [...(counters.get(row[0]) ?? []), row])
  for (const [suffix, rows] of counters) {
    const name = `${prefix}${suffix}`
    if (registry.getSingleMetric(name)) continue
    const extra = Object.keys(rows[0]?.[3] ?? {})
    new Counter<string>({
      name,
      help: rows[0]?.[1] ?? suffix,
      labelNames: ['cache', 'namespace', ...extra],
      registers: [registry],
      collect() {
        this.reset()
        for (const { name: cache, stats } of snapshot()) {
          for (const [, , read, labels] of rows)
            this.inc({ cache, namespace: stats.namespace, ...labels }, read(stats))
        }
      },
    })
  }
  for (const [suffix, help, read] of GAUGES) {
    const name = `${prefix}${suffix}`
    if (registry.getSingleMetric(name)) continue
    new Gauge<Labels>({
      name,
      help,
      labelNames: ['cache', 'namespace'],
      registers: [registry],
      collect() {
        this.reset()
        for (const { name: cache, stats } of snapshot())
          this.set({ cache, namespace: stats.namespace }, read(stats))
      },
    })
  }
  const breakerName = `${prefix}cache_breaker_state`
  if (!registry.getSingleMetric(breakerName)) {
    new Gauge<Labels | 'state'>({
      name: breakerName,
      help: "Redis circuit breaker: 1 for the current state ('none' without Redis)",
      labelNames: ['cache', 'namespace', 'state'],
      registers: [registry],
      collect() {
        this.reset()
        for (const { name: cache, stats } of snapshot()) {
          for (const state of BREAKER_STATES) {
            this.set({ cache, namespace: stats.namespace, state }, stats.breaker === state ? 1 : 0)
          }
        }
      },
    })
  }
}
