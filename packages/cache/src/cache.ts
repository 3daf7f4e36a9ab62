/**
 * The two-tier cache: the facade.
 *
 * This class keeps the public methods and only the hottest path: an L1 hit. That hit is one
 * `lru-cache` lookup, one sequence-number compare and one clock read: no option object, no
 * closure, no event object unless someone listens. The sequence number (`seq`, on the stack) is
 * bumped whenever this instance learns something that may invalidate L1 records (a higher tag
 * version, a bus disconnect); a record whose `seq` differs is re-checked once against the local
 * tag table (entries/entry.ts), then stamped with the current `seq`. So a tagged hit costs the
 * same as an untagged one.
 *
 * Everything else is a mechanism over the shared state ({@link CacheStack}, cache-stack.ts):
 *
 * - get-set/get-or-set.ts: the miss path (coalescing, the refill-race snapshot), refresh, bypass;
 * - get-set/get-or-set-many.ts, get-set/set.ts; get-set/loader-runner.ts: timeouts and grace;
 * - read/read-entry.ts: the one-round-trip L2 read; read/lookup.ts: `get`, `has`, `getMany`;
 * - stampede/lease.ts, stampede/lease-notice.ts: the cross-process lease and its waiters;
 * - entries/entry.ts: building entries, checking and demoting L1 records;
 * - bus/coherence.ts: the notices sent and received; invalidation/invalidation.ts: delete,
 *   expire, tags, clear; recovery/: what could not reach Redis, replayed;
 * - tiers/redis-tier.ts: every Redis operation, bounded by `redisTimeout` and a circuit breaker.
 */
import { countOut, onBusMessage, onBusState } from './bus/coherence.js'
import type { PeerAcknowledgement } from './bus/peer-acks.js'
import { CacheStack, type StackHooks } from './cache-stack.js'
import { toMilliseconds } from './duration.js'
import { demotedBytes } from './entries/entry.js'
import { getOrSetForced, getOrSetSlow } from './get-set/get-or-set.js'
import { getOrSetMany } from './get-set/get-or-set-many.js'
import type { BatchLoader, Loader } from './get-set/loader-runner.js'
import { set } from './get-set/set.js'
import { clear, del, expire, invalidateTags, onReplayed } from './invalidation/invalidation.js'
import { type CacheStats, channels } from './observability/channels.js'
import type {
  CacheOptions,
  GetOrSetOptions,
  InvalidateOptions,
  InvalidationOptions,
  ReadyOptions,
  ResolvedCacheOptions,
  SetManyOptions,
  SetOptions,
} from './options.js'
import { expiresAt, getMany, lookup } from './read/lookup.js'
import { notifyLeaseWaiters } from './stampede/lease-notice.js'

/** The mechanisms the tiers call back into (see cache-stack.ts). */
const HOOKS: StackHooks = Object.freeze({
  onBusMessage,
  onBusState,
  demote: demotedBytes,
  replayed: onReplayed,
  published: countOut,
})

const EXPIRE_MODE: InvalidateOptions = Object.freeze({ mode: 'expire' })

/** The per-call option that makes an invalidation resolve with a {@link PeerAcknowledgement}. */
type AwaitingPeers = { awaitPeers: true }

/** The cache. Create it with {@link createCache}. */
export class Cache {
  /** The validated options, frozen. */
  readonly options: ResolvedCacheOptions
  /** This instance's id on the bus. */
  readonly instanceId: string
  private readonly stack: CacheStack
  // The stack's L1, counters and clone flag, held here too for the inlined hit (one load fewer).
  private readonly l1: CacheStack['l1']
  private readonly counters: CacheStack['counters']
  private readonly clone: boolean

  constructor(options: CacheOptions = {}) {
    const stack = new CacheStack(options, HOOKS)
    this.stack = stack
    this.options = stack.options
    this.instanceId = stack.instanceId
    this.l1 = stack.l1
    this.counters = stack.counters
    this.clone = stack.clone
  }

  // ---------------------------------------------------------------- reads

  /**
   * The value of `key`, from L1, else L2, else `loader` (run once however many callers miss
   * together). A loader result of `undefined` or `null` is cached for `negativeTtl`.
   *
   * Per call, `{ refresh: true }` skips reading and overwrites the entry with the loader's value
   * (coalesced, and protected against the refill race like a miss); `{ bypass: true }` runs the
   * loader without touching the cache. See {@link GetOrSetOptions}.
   */
  async getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T> {
    if (options !== undefined && (options.refresh === true || options.bypass === true))
      return getOrSetForced(this.stack, key, loader, options) as Promise<T>
    const record = this.l1.get(key)
    if (record !== undefined && record.seq === this.stack.seq && record.freshUntil > Date.now()) {
      this.counters.l1Hits++
      if (channels.hit.hasSubscribers)
        channels.hit.publish({ namespace: this.options.namespace, key, tier: 'l1' })
      return (this.clone ? structuredClone(record.value) : record.value) as T
    }
    return getOrSetSlow(this.stack, key, loader, options, record) as Promise<T>
  }

  /** The value of `key`, or `undefined` on a miss (a cached negative result is also `undefined`). */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const record = this.l1.get(key)
    if (record !== undefined && record.seq === this.stack.seq && record.freshUntil > Date.now()) {
      this.counters.l1Hits++
      if (channels.hit.hasSubscribers)
        channels.hit.publish({ namespace: this.options.namespace, key, tier: 'l1' })
      return (this.clone ? structuredClone(record.value) : record.value) as T
    }
    const found = await lookup(this.stack, key, record)
    return found === undefined ? undefined : (found.value as T)
  }

  /** Whether `key` has a fresh value (a cached negative result counts). */
  async has(key: string): Promise<boolean> {
    return (await lookup(this.stack, key, this.l1.get(key))) !== undefined
  }

  /**
   * When the fresh value of `key` stops being fresh, in ms since the epoch (`undefined`: no fresh
   * value). With Redis, one round trip (the entry's own freshness, not L1's shorter one); Redis
   * unavailable answers `undefined`, as `get` would miss.
   */
  expiresAt(key: string): Promise<number | undefined> {
    return expiresAt(this.stack, key)
  }

  /** The values of `keys` (undefined for misses), with one L2 round trip for all L1 misses. */
  getMany<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>> {
    return getMany<T>(this.stack, keys)
  }

  /**
   * The values of `keys`: L1, then one L2 round trip for all L1 misses, then ONE `batchLoader`
   * call for what is still missing, written back in one pipelined round trip.
   *
   * `{ refresh: true }` skips both reads: one MGET of the tag versions (the refill-race snapshot),
   * ONE `batchLoader` call for every key not already being loaded, the values written back and
   * other instances told to drop their L1 copies. `{ bypass: true }` is one `batchLoader` call
   * and nothing else. See {@link GetOrSetOptions}.
   */
  getOrSetMany<T>(
    keys: readonly string[],
    batchLoader: BatchLoader<T>,
    options?: SetManyOptions,
  ): Promise<T[]> {
    return getOrSetMany(this.stack, keys, batchLoader, options)
  }

  // ---------------------------------------------------------------- writes

  /** Store `value` under `key` in both tiers; other instances drop their L1 copy. */
  set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    return set(this.stack, key, value, options)
  }

  /**
   * Remove `key` (or keys) from both tiers and from every instance's L1. Idempotent. Without
   * Redis at hand it applies here at once and is replayed later (see {@link InvalidationOptions}).
   */
  delete(
    keys: string | readonly string[],
    options: InvalidationOptions & AwaitingPeers,
  ): Promise<PeerAcknowledgement>
  delete(keys: string | readonly string[], options?: InvalidationOptions): Promise<void>
  delete(keys: string | readonly string[], options?: InvalidationOptions): Promise<unknown> {
    return del(this.stack, keys, options)
  }

  /**
   * Make `key` (or keys) stale without removing it: the next read reloads, and the old value is
   * still served as a fallback within grace if the loader fails.
   */
  expire(
    keys: string | readonly string[],
    options: InvalidationOptions & AwaitingPeers,
  ): Promise<PeerAcknowledgement>
  expire(keys: string | readonly string[], options?: InvalidationOptions): Promise<void>
  expire(keys: string | readonly string[], options?: InvalidationOptions): Promise<unknown> {
    return expire(this.stack, keys, options)
  }

  /**
   * Invalidate every entry that carries one of `tags`, on every instance: one atomic `INCRBY`
   * per tag on the server (in one script). Entries loading while this runs are stored stale.
   * Idempotent in effect (versions only rise). Without Redis at hand the bump applies here at
   * once and is replayed later (see {@link InvalidationOptions}).
   *
   * With `{ awaitPeers: true }` it resolves once every live instance confirmed it dropped the
   * tagged entries from its L1, or `peerAckTimeout` passed: a {@link PeerAcknowledgement}
   * (`unconfirmed` counts the peers that did not confirm; never thrown). The same option is
   * taken by `delete`, `expire`, `expireTags` and `clear`.
   */
  invalidateTags(
    tags: readonly string[],
    options: InvalidateOptions & AwaitingPeers,
  ): Promise<PeerAcknowledgement>
  invalidateTags(tags: readonly string[], options?: InvalidateOptions): Promise<void>
  invalidateTags(tags: readonly string[], options?: InvalidateOptions): Promise<unknown> {
    return invalidateTags(this.stack, tags, options)
  }

  /** `invalidateTags(tags, { mode: 'expire' })`: tagged entries become stale, kept as a fallback. */
  expireTags(
    tags: readonly string[],
    options: InvalidationOptions & AwaitingPeers,
  ): Promise<PeerAcknowledgement>
  expireTags(tags: readonly string[], options?: InvalidationOptions): Promise<void>
  expireTags(tags: readonly string[], options?: InvalidationOptions): Promise<unknown> {
    return invalidateTags(
      this.stack,
      tags,
      options === undefined ? EXPIRE_MODE : { ...options, mode: 'expire' },
    )
  }

  /**
   * Invalidate every entry of the namespace, in every instance: bumps the namespace generation
   * (an implicit tag of every entry), which is O(1) on Redis and Redis Cluster alike. Old entries
   * then expire by their TTL.
   */
  clear(options: InvalidationOptions & AwaitingPeers): Promise<PeerAcknowledgement>
  clear(options?: InvalidationOptions): Promise<void>
  clear(options?: InvalidationOptions): Promise<unknown> {
    return clear(this.stack, options)
  }

  /**
   * Resolves once the Redis connection is ready (and, with the failover check on, verified), at
   * once without Redis. Rejects with `L2UnavailableError` when it is not within `timeout`
   * (default `connectTimeout`): `E_CACHE_L2_AUTH` when Redis refuses the credentials, else
   * `E_CACHE_L2_UNAVAILABLE`. Calls never need it (their first ones wait up to `connectTimeout`
   * for the connection themselves); it is for start-up and readiness probes.
   */
  async ready(options?: ReadyOptions): Promise<void> {
    const stack = this.stack
    stack.assertOpen()
    if (stack.l2 === undefined) return
    const timeout = options?.timeout
    await stack.l2.readiness.waitReady(
      timeout === undefined ? stack.options.connectTimeout : toMilliseconds(timeout, 'timeout'),
    )
  }

  /** Stop the bus, close owned connections and drop L1. Calls after this reject with `E_CACHE_CLOSED`. */
  async close(): Promise<void> {
    const stack = this.stack
    if (stack.closed) return
    stack.closed = true
    stack.l1.clear()
    notifyLeaseWaiters(stack, undefined)
    // One last replay of what is still pending (what it cannot deliver is reported as dropped).
    await stack.recovery?.close()
    stack.acks?.closeAll()
    await stack.bus?.close()
    await stack.l2?.close()
  }

  /** Counters since creation, and the current tiers' state. */
  stats(): CacheStats {
    const stack = this.stack
    const r = stack.recovery
    return {
      namespace: this.options.namespace,
      ...this.counters,
      busConnected: stack.bus?.connected ?? false,
      breaker: stack.l2?.breaker.state ?? 'none',
      l1Entries: stack.l1.size,
      l1Bytes: stack.l1.calculatedSize ?? 0,
      degraded: r?.degraded ?? false,
      pendingInvalidations: r?.pending ?? 0,
      oldestPendingMs: r?.oldestMs ?? 0,
      l2Held: r?.l2Held ?? false,
      invalidationReplays: r?.replays ?? 0,
      replayedInvalidations: r?.replayed ?? 0,
      replayFailures: r?.replayFailures ?? 0,
      pendingOverflows: r?.overflows ?? 0,
      failovers: stack.failover?.changes ?? 0,
    }
  }

  /** Whether the bus subscriber is connected (false without Redis or with `bus: false`). */
  get busConnected(): boolean {
    return this.stack.bus?.connected ?? false
  }
}

/**
 * Create a cache. With `redis` it is two-tier (L1 in process, L2 in Redis, a bus between
 * instances); without, L1 only.
 *
 * @throws InvalidOptionError naming the first invalid option
 */
export function createCache(options: CacheOptions = {}): Cache {
  return new Cache(options)
}
