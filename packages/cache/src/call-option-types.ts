/**
 * The per-call options of the cache's methods (call > instance > default, resolved by
 * call-options.ts); the instance's are options.ts.
 */
import type { Duration } from './duration.js'

/**
 * Per-call options of the invalidations (`delete`, `expire`, `invalidateTags`, `expireTags`,
 * `clear`): call > instance > default.
 */
export interface InvalidationOptions {
  /**
   * This call's outcome when Redis cannot be reached (see `CacheOptions.onL2Unavailable`).
   * A relay that must know the invalidation reached Redis (a transactional outbox) passes
   * `'reject'` and retries.
   */
  onL2Unavailable?: 'resolve' | 'reject' | undefined
  /**
   * Resolve only once every live instance confirmed it dropped its L1 copy, or `peerAckTimeout`
   * passed: the call then resolves with a `PeerAcknowledgement` (`unconfirmed` peers counted,
   * never thrown). Needs the bus; refused on Redis Cluster (docs/cache-tiers.md). @default false
   */
  awaitPeers?: boolean | undefined
  /** This call's `CacheOptions.peerAckTimeout`. */
  peerAckTimeout?: Duration | undefined
}

/** Per-call options of `set`, `getOrSet` and `getOrSetMany`: call > instance > default. */
export interface SetOptions {
  /** Freshness (L2 TTL) of this entry. */
  ttl?: Duration | undefined
  /** L1 TTL of this entry. */
  l1Ttl?: Duration | undefined
  /** Tags this entry depends on: `invalidateTags` of any of them drops it. */
  tags?: readonly string[] | undefined
  /** Grace of this entry. */
  grace?: Duration | false | undefined
  /** Soft loader timeout for this call. */
  softTimeout?: Duration | false | undefined
  /** Hard loader timeout for this call. */
  hardTimeout?: Duration | false | undefined
  /** Cross-process lease for this call. */
  lease?: boolean | undefined
}

/**
 * Per-call options of `getOrSet` and `getOrSetMany`: those of {@link SetOptions}, plus how this
 * call reads. `refresh` and `bypass` are exclusive (both set: `InvalidOptionError` naming `bypass`).
 */
export interface GetOrSetOptions extends SetOptions {
  /**
   * `refresh: true` skips reading (neither L1 nor L2 is consulted), runs the loader and overwrites
   * the entry in both tiers. Still coalesced: concurrent callers of the same key (refreshing or
   * not) share one loader run, but a refresh never joins a load that may still answer from the
   * cache (it takes its place). Still safe against the refill race: the tag versions are read
   * from Redis (one MGET) before the loader runs, so a tag invalidated during the load makes the
   * stored entry stale at once. With `lease`, a refresh takes the lease when it is free but never
   * waits for another process's lease (that process may be serving the old value).
   * @default false
   */
  refresh?: boolean | undefined
  /**
   * `bypass: true` runs the loader without reading or writing either tier (the hard timeout and
   * the loader counters still apply); the cached entry, if any, is left as it is.
   * @default false
   */
  bypass?: boolean | undefined
}

/**
 * Options of `getOrSetMany`: those of `getOrSet` (`refresh: true`, `bypass: true` included, for
 * the whole batch), with tags optionally computed per key.
 */
export interface SetManyOptions extends Omit<GetOrSetOptions, 'tags'> {
  /** Tags of every entry of the batch, or a function giving each key's tags. */
  tags?: readonly string[] | ((key: string) => readonly string[]) | undefined
}

/** Options of `cache.ready()`. */
export interface ReadyOptions {
  /** How long to wait for the connection. @default the cache's `connectTimeout` */
  timeout?: Duration | undefined
}

/** Options of `invalidateTags` (and, but `mode`, of `expireTags`). */
export interface InvalidateOptions extends InvalidationOptions {
  /**
   * `'delete'` makes the tagged entries unusable; `'expire'` makes them stale but still servable
   * as a grace fallback (`expireTags`). @default 'delete'
   */
  mode?: 'delete' | 'expire' | undefined
}
