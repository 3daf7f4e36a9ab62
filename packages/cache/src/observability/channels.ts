/**
 * Observability at zero cost without listeners: each event is a `node:diagnostics_channel`
 * channel, and the cache builds an event object only after checking `hasSubscribers`. Counters
 * for {@link CacheStats} are plain integer increments.
 *
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel'
 * subscribe('ayala:cache:miss', (event) => console.log(event))
 * ```
 */
import { channel } from 'node:diagnostics_channel'

/** Names of the channels the cache publishes to. */
export const CACHE_CHANNELS = Object.freeze({
  /** `{ namespace, key, tier: 'l1' | 'l2' }` */
  hit: 'ayala:cache:hit',
  /** `{ namespace, key }`: missed both tiers. */
  miss: 'ayala:cache:miss',
  /** `{ namespace, key, reason: 'loader-error' | 'soft-timeout' | 'hard-timeout', error? }` */
  stale: 'ayala:cache:stale',
  /** `{ namespace, key, durationMs, error? }` after each loader run. */
  loader: 'ayala:cache:loader',
  /** `{ namespace, key }`: a caller joined a load already in flight. */
  coalesced: 'ayala:cache:coalesced',
  /** `{ namespace, direction: 'in' | 'out', lagMs?, message }` */
  bus: 'ayala:cache:bus',
  /** `{ namespace, state: 'connected' | 'disconnected' }` for the bus subscriber. */
  busState: 'ayala:cache:bus-state',
  /** `{ namespace, state: 'closed' | 'open' | 'half-open' }` */
  breaker: 'ayala:cache:breaker',
  /** `{ namespace, operation, error }`: an L2 error the cache tolerated (fell back). */
  error: 'ayala:cache:error',
  /** `{ namespace, key, error }`: bytes in Redis that are not a readable entry (read as a miss). */
  corrupt: 'ayala:cache:corrupt',
})

/** The channels as objects (created once per process). */
export const channels = {
  hit: channel(CACHE_CHANNELS.hit),
  miss: channel(CACHE_CHANNELS.miss),
  stale: channel(CACHE_CHANNELS.stale),
  loader: channel(CACHE_CHANNELS.loader),
  coalesced: channel(CACHE_CHANNELS.coalesced),
  bus: channel(CACHE_CHANNELS.bus),
  busState: channel(CACHE_CHANNELS.busState),
  breaker: channel(CACHE_CHANNELS.breaker),
  error: channel(CACHE_CHANNELS.error),
  corrupt: channel(CACHE_CHANNELS.corrupt),
}

/** A snapshot of a cache's counters, from `cache.stats()`. */
export interface CacheStats {
  namespace: string
  l1Hits: number
  l2Hits: number
  misses: number
  staleServed: number
  loaderCalls: number
  loaderErrors: number
  /** Total time spent in loaders, ms. */
  loaderTimeMs: number
  coalesced: number
  leaseWaits: number
  busIn: number
  busOut: number
  /** Lag of the last bus message received (receive time - send time, ms; includes clock skew). */
  busLastLagMs: number
  busConnected: boolean
  breaker: 'closed' | 'open' | 'half-open' | 'none'
  l2Errors: number
  corruptEntries: number
  l1Entries: number
  l1Bytes: number
}
