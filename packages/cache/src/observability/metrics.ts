/**
 * The one table of the cache's metrics. Every exporter (the dependency-free text exporter
 * `prometheusMetrics()`, the prom-client registration of `@ayala/nestjs`, your own OpenTelemetry
 * observable instruments) walks {@link CACHE_METRICS} and reads each cache's `stats()` at
 * collection time, so a series is named, typed, described and computed in exactly one place and
 * the cache's hot path pays nothing for it.
 *
 * Names carry no prefix (`cache_hits_total`); exporters put theirs in front (`ayala_` by default).
 * Every sample carries the `namespace` label; a descriptor's `labels` lists it first, then the
 * metric's own labels (`tier`, `direction`, `state`).
 */
import type { CacheStats } from './channels.js'

/** Prometheus type of a cache metric: a monotonic `counter` or a current-state `gauge`. */
export type CacheMetricType = 'counter' | 'gauge'

/** One sample of a cache metric: its label values (every name in the descriptor's `labels`) and its value. */
export interface CacheMetricSample {
  /** Label name to value; holds exactly the descriptor's `labels`. */
  readonly labels: Readonly<Record<string, string>>
  /** The value, in the metric's base unit (seconds for `_seconds` metrics). */
  readonly value: number
}

/** A cache metric: how to name, describe and type it, and how to read its samples from `stats()`. */
export interface CacheMetricDescriptor {
  /** Metric name without prefix, e.g. `cache_hits_total` (exporters prepend `ayala_` or their own prefix). */
  readonly name: string
  /** The `# HELP` text. */
  readonly help: string
  /** `counter` (monotonic since the cache was created) or `gauge` (current state). */
  readonly type: CacheMetricType
  /** Label names of every sample, `namespace` first. */
  readonly labels: readonly string[]
  /** The samples of one cache, computed from its `stats()` snapshot. */
  read(stats: CacheStats): readonly CacheMetricSample[]
}

/** Breaker states reported by `cache_breaker_state` (`'none'`: the cache has no Redis). */
const BREAKER_STATES: ReadonlyArray<CacheStats['breaker']> = ['closed', 'half-open', 'open', 'none']

type NumericField = {
  [K in keyof CacheStats]: CacheStats[K] extends number ? K : never
}[keyof CacheStats]

function counter(name: string, help: string, field: NumericField, scale = 1): CacheMetricDescriptor {
  return {
    name,
    help,
    type: 'counter',
    labels: ['namespace'],
    read: (s) => [{ labels: { namespace: s.namespace }, value: scale === 1 ? s[field] : s[field] * scale }],
  }
}

function gauge(name: string, help: string, read: (s: CacheStats) => number): CacheMetricDescriptor {
  return {
    name,
    help,
    type: 'gauge',
    labels: ['namespace'],
    read: (s) => [{ labels: { namespace: s.namespace }, value: read(s) }],
  }
}

/**
 * Every metric of a cache, in exposition order. Read at scrape time from `cache.stats()`:
 *
 * ```ts
 * for (const metric of CACHE_METRICS)
 *   for (const { labels, value } of metric.read(cache.stats())) console.log(metric.name, labels, value)
 * ```
 */
export const CACHE_METRICS: readonly CacheMetricDescriptor[] = Object.freeze([
  {
    name: 'cache_hits_total',
    help: 'Hits served by a tier (l1: in process, l2: Redis).',
    type: 'counter',
    labels: ['namespace', 'tier'],
    read: (s) => [
      { labels: { namespace: s.namespace, tier: 'l1' }, value: s.l1Hits },
      { labels: { namespace: s.namespace, tier: 'l2' }, value: s.l2Hits },
    ],
  },
  counter('cache_misses_total', 'Lookups that missed both tiers.', 'misses'),
  counter('cache_stale_served_total', 'Stale values served by grace.', 'staleServed'),
  counter('cache_loader_calls_total', 'Loader runs.', 'loaderCalls'),
  counter('cache_loader_errors_total', 'Loader runs that failed.', 'loaderErrors'),
  counter('cache_loader_seconds_total', 'Time spent in loaders, seconds.', 'loaderTimeMs', 1 / 1000),
  counter('cache_coalesced_total', 'Callers that joined a load already in flight.', 'coalesced'),
  counter('cache_lease_waits_total', "Misses that waited for another process's lease.", 'leaseWaits'),
  {
    name: 'cache_bus_messages_total',
    help: 'Invalidation messages on the bus.',
    type: 'counter',
    labels: ['namespace', 'direction'],
    read: (s) => [
      { labels: { namespace: s.namespace, direction: 'in' }, value: s.busIn },
      { labels: { namespace: s.namespace, direction: 'out' }, value: s.busOut },
    ],
  },
  counter('cache_l2_errors_total', 'Redis errors the cache tolerated (fell back).', 'l2Errors'),
  counter(
    'cache_corrupt_entries_total',
    'Unreadable entries found in Redis (read as misses).',
    'corruptEntries',
  ),
  counter(
    'cache_invalidation_replays_total',
    'Rounds of invalidations, kept while Redis was unreachable, replayed to it.',
    'invalidationReplays',
  ),
  counter(
    'cache_replayed_invalidations_total',
    'Invalidations (keys, tags, the generation) replayed to Redis after it was unreachable.',
    'replayedInvalidations',
  ),
  counter('cache_replay_failures_total', 'Replay attempts that failed (each is retried).', 'replayFailures'),
  counter(
    'cache_pending_overflows_total',
    'Times the pending invalidations passed recoveryMaxItems and became one namespace generation bump.',
    'pendingOverflows',
  ),
  counter(
    'cache_failovers_total',
    'Times Redis answered with another replication history (a promoted replica): namespace generation bumped, L1 dropped.',
    'failovers',
  ),
  counter(
    'cache_peer_waits_total',
    "Invalidations that awaited their peers' confirmations (awaitPeers).",
    'peerWaits',
  ),
  counter(
    'cache_peers_unconfirmed_total',
    'Receivers that did not confirm an awaited invalidation within peerAckTimeout.',
    'peersUnconfirmed',
  ),
  gauge('cache_l1_entries', 'Entries in the in-process tier.', (s) => s.l1Entries),
  gauge('cache_l1_bytes', 'Estimated bytes in the in-process tier.', (s) => s.l1Bytes),
  gauge('cache_bus_connected', '1 while the invalidation bus subscriber is connected.', (s) =>
    s.busConnected ? 1 : 0,
  ),
  gauge(
    'cache_bus_lag_seconds',
    'Lag of the last bus message received, seconds.',
    (s) => s.busLastLagMs / 1000,
  ),
  gauge('cache_degraded', '1 while the instance holds invalidations that have not reached Redis.', (s) =>
    s.degraded ? 1 : 0,
  ),
  gauge(
    'cache_pending_invalidations',
    'Invalidations (keys, tags, the generation) waiting for their replay to Redis.',
    (s) => s.pendingInvalidations,
  ),
  gauge(
    'cache_pending_invalidation_age_seconds',
    'Age of the oldest invalidation waiting for its replay, seconds.',
    (s) => s.oldestPendingMs / 1000,
  ),
  gauge(
    'cache_l2_held',
    '1 while L2 reads are bypassed (pending invalidations, a lost link, or recoveryHold).',
    (s) => (s.l2Held ? 1 : 0),
  ),
  gauge('cache_breaker_open', '1 while the Redis circuit breaker is open or half-open.', (s) =>
    s.breaker === 'open' || s.breaker === 'half-open' ? 1 : 0,
  ),
  {
    name: 'cache_breaker_state',
    help: "Redis circuit breaker: 1 for the current state ('none' without Redis).",
    type: 'gauge',
    labels: ['namespace', 'state'],
    read: (s) =>
      BREAKER_STATES.map((state) => ({
        labels: { namespace: s.namespace, state },
        value: s.breaker === state ? 1 : 0,
      })),
  },
] satisfies CacheMetricDescriptor[])
