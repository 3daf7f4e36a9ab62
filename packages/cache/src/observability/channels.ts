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
  /**
   * {@link RecoveryEvent}: auto-recovery's state changes (an invalidation deferred, replayed,
   * the bound overflowed, L2 held or released).
   */
  recovery: 'ayala:cache:recovery',
  /**
   * `PeersEvent` (`{ namespace, id, sent, receivers, confirmed, unconfirmed, waitedMs }`): an
   * invalidation with `awaitPeers: true` settled (`unconfirmed > 0`: peers that did not confirm
   * within `peerAckTimeout`).
   */
  peers: 'ayala:cache:peers',
})

/** An event of the `ayala:cache:recovery` channel (see docs/cache-recovery.md). */
export interface RecoveryEvent {
  namespace: string
  /**
   * - `degraded`: the first invalidation that could not reach Redis was kept (`error` says why);
   * - `overflow`: the pending set passed `recoveryMaxItems` and became one generation bump;
   * - `replay-failed`: a replay (or the probe of a lost link) failed; it is retried;
   * - `recovered`: every pending invalidation reached Redis (`replayed` slots, `durationMs` of the
   *   last round, `oldestMs` how long the oldest one waited);
   * - `held` / `released`: the instance stopped / resumed reading L2;
   * - `dropped`: the cache was closed with `pending` invalidations unreplayed;
   * - `failover`: the failover check found Redis with another replication history than the
   *   namespace's (a promoted replica): the namespace generation was bumped, L1 dropped.
   */
  state:
    | 'degraded'
    | 'overflow'
    | 'replay-failed'
    | 'recovered'
    | 'held'
    | 'released'
    | 'dropped'
    | 'failover'
  /** Invalidation slots (keys, tags, the generation) not yet replayed. */
  pending: number
  /** Age of the oldest unreplayed invalidation, ms. */
  oldestMs: number
  /** Whether L2 reads are refused now. */
  l2Held: boolean
  error?: unknown
  replayed?: number
  durationMs?: number
}

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
  recovery: channel(CACHE_CHANNELS.recovery),
  peers: channel(CACHE_CHANNELS.peers),
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
  /** Invalidations that awaited their peers' confirmations (`awaitPeers: true`). */
  peerWaits: number
  /** Confirmations received for them (this instance's own included). */
  peerAcksIn: number
  /** Confirmations this instance sent for other instances' awaited notices. */
  peerAcksOut: number
  /** Receivers that did not confirm within `peerAckTimeout`, summed over the waits. */
  peersUnconfirmed: number
  breaker: 'closed' | 'open' | 'half-open' | 'none'
  l2Errors: number
  corruptEntries: number
  l1Entries: number
  l1Bytes: number
  /** True while this instance holds invalidations that have not reached Redis yet. */
  degraded: boolean
  /** Invalidation slots (keys, tags, the generation) waiting for their replay. */
  pendingInvalidations: number
  /** Age of the oldest of them, ms (0 when none). */
  oldestPendingMs: number
  /** True while L2 reads are bypassed (degraded, link lost, or within `recoveryHold`). */
  l2Held: boolean
  /** Replay rounds that reached Redis. */
  invalidationReplays: number
  /** Invalidation slots replayed. */
  replayedInvalidations: number
  /** Replay attempts that failed (each is retried). */
  replayFailures: number
  /** Times the pending set passed `recoveryMaxItems` and became one generation bump. */
  pendingOverflows: number
  /**
   * Times the failover check found Redis with another replication history than before (a
   * promoted replica, a restart without its replication state) and started over.
   */
  failovers: number
}
