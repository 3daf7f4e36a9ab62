/**
 * The two-tier cache.
 *
 * Read path. An L1 hit is one `lru-cache` lookup, one sequence-number compare and one clock read:
 * no option object, no closure, no event object unless someone listens. The sequence number
 * (`seq`) is bumped whenever this instance learns something that may invalidate L1 entries (a
 * higher tag version, a bus disconnect); an entry whose `seq` differs is re-checked once against
 * the local tag table (slow path), then stamped with the current `seq`. So a tagged hit costs the
 * same as an untagged one.
 *
 * Miss path. Concurrent misses of one key share one flight (coalescing). The flight reads L2 with
 * one MGET (no script) of the entry, the generation and the versions of the tags the caller is
 * about to snapshot (`readEntry`, shared with `get`/`has` when an L1 record names the entry's tags;
 * a cold `get`/`has` runs the read script, which checks the header's tags in the same round trip);
 * an L2 hit fills L1. Otherwise the
 * loader runs (optionally behind a cross-process lease whose waiters wake on a bus notice), under
 * the soft and hard timeouts, with the stale value (grace) as the fallback, and the result is
 * written to both tiers with the version snapshot taken before the loader ran. A `refresh` call
 * skips the read but not the snapshot; a `bypass` call touches neither tier.
 *
 * Failure. Every L2 call is bounded by `redisTimeout` and a circuit breaker (tiers/redis-tier.ts):
 * reads treat an unavailable L2 as a miss and fills are best effort. Invalidations (and the bus
 * notices of `set` and refreshes, and a `set` whose new value did not reach L2) must not be lost:
 * they apply locally at once and are kept for a replay as soon as Redis answers, before this
 * instance reads L2 again (recovery/auto-recovery.ts); the call resolves, or rejects with
 * `L2UnavailableError` under `onL2Unavailable: 'reject'`.
 */
import { randomBytes } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { Bus, type BusMessage } from './bus/bus.js'
import { toMilliseconds } from './duration.js'
import {
  CacheClosedError,
  CacheError,
  InvalidOptionError,
  L2UnavailableError,
  LoaderTimeoutError,
} from './errors.js'
import { GENERATION_SUFFIX, KeySpace, tagSuffix } from './keys.js'
import { type CacheStats, channels } from './observability/channels.js'
import {
  type CacheOptions,
  durationOrOff,
  type GetOrSetOptions,
  type InvalidationOptions,
  type ResolvedCacheOptions,
  resolveCacheOptions,
  type SetOptions,
} from './options.js'
import { AutoRecovery } from './recovery/auto-recovery.js'
import { KeyEffect } from './recovery/pending-invalidations.js'
import { decodeEnvelope, type Envelope, encodeEnvelope } from './serialization/envelope.js'
import { type Codec, msgpackCodec } from './serialization/msgpack-codec.js'
import { compareVersion, HARD_STEP, LocalTagVersions, VersionState } from './tags/tag-versions.js'
import type { BreakerState } from './tiers/circuit-breaker.js'
import { l2Error } from './tiers/redis-connection.js'
import type { ReadResult } from './tiers/redis-replies.js'
import { RedisTier } from './tiers/redis-tier.js'
import { deepFreeze, estimateSize } from './tiers/size.js'

/** What a loader receives. */
export interface LoaderContext {
  /** The key being loaded. */
  readonly key: string
  /** Aborted when the hard timeout passes (the result is still cached if it arrives). */
  readonly signal: AbortSignal
  /** The stale value kept by grace, if any (e.g. for conditional requests). */
  readonly stale: unknown
}

/** Computes the value of a missing key. */
export type Loader<T> = (context: LoaderContext) => T | Promise<T>

/**
 * Computes the values of several missing keys at once: return a `Map` from key to value, or an
 * array aligned with `keys`. A key absent from the Map is a cached `undefined` (negative caching).
 */
export type BatchLoader<T> = (
  keys: string[],
  context: { readonly signal: AbortSignal },
) => Promise<Map<string, T> | readonly T[]> | Map<string, T> | readonly T[]

/**
 * Options of `getOrSetMany`: those of `getOrSet` (`refresh: true`, `bypass: true` included, for
 * the whole batch), with tags optionally computed per key.
 */
export interface SetManyOptions extends Omit<GetOrSetOptions, 'tags'> {
  tags?: readonly string[] | ((key: string) => readonly string[]) | undefined
}

/** Options of `invalidateTags` (and, but `mode`, of `expireTags`). */
export interface InvalidateOptions extends InvalidationOptions {
  /**
   * `'delete'` makes the tagged entries unusable; `'expire'` makes them stale but still servable
   * as a grace fallback (`expireTags`). @default 'delete'
   */
  mode?: 'delete' | 'expire' | undefined
}

interface L1Record {
  value: unknown
  /** L1 freshness (ms epoch). */
  freshUntil: number
  /** Usable as a grace fallback until (ms epoch). */
  staleUntil: number
  /** Tag suffixes, the generation first. */
  tags: readonly string[]
  /** Snapshot versions aligned with `tags`. */
  versions: readonly number[]
  /** `seq` at which this record was last checked against the tag table; -1: never. */
  seq: number
  storedAt: number
}

interface CallOptions {
  ttl: number
  l1Ttl: number
  grace: number
  softTimeout: number
  hardTimeout: number
  lease: boolean
  /** Tag suffixes including the generation first. */
  tagSuffixes: string[]
}

interface Flight {
  promise: Promise<unknown>
  /** Set by delete/clear while the load runs: its result is returned but not stored. */
  invalidated: boolean
  /**
   * True once the flight's value can only come from a loader (a refresh, or a loader started):
   * a `refresh` caller joins such a flight, never one that may still answer from the cache.
   */
  loading: boolean
  /**
   * A refresh: after storing, tell the other instances to drop their L1 copy (they may hold the
   * value this load overwrites), as `set` does.
   */
  announce: boolean
  /** The load still running after its callers were served stale (soft/hard timeout). */
  background?: Promise<unknown> | undefined
}

interface Candidate {
  value: unknown
  staleUntil: number
}

/** A caller waiting for another process's lease: woken by a release notice on the bus. */
interface LeaseWaiter {
  /** A notice arrived since the waiter's last check. */
  notified: boolean
  /** Ends the current wait early; set only while waiting. */
  wake: (() => void) | undefined
}

/** What {@link Cache.readEntry} read: the entry if usable, and the versions read with it. */
interface EntryRead {
  /** Fresh (filled into L1) or stale (a grace fallback); undefined when absent, invalid or unreadable. */
  hit: (Candidate & { fresh: boolean }) | undefined
  generation: number
  /** Versions of the requested tags, aligned with them. */
  requested: number[]
}

type RecordState = 0 | 1 | 2
const FRESH: RecordState = 0
const STALE: RecordState = 1
const INVALID: RecordState = 2

const NEVER_ABORTED = new AbortController().signal
const GENERATION_ONLY: readonly string[] = Object.freeze([GENERATION_SUFFIX])
const NO_VERSIONS: readonly number[] = Object.freeze([])
/** The snapshot of a load whose value is never stored (`bypass`). */
const NO_SNAPSHOT: number[] = []
const NO_TAGS: readonly string[] = Object.freeze([])
const EXPIRE_MODE: InvalidateOptions = Object.freeze({ mode: 'expire' })

/** The error an invalidation rejects with under `onL2Unavailable: 'reject'` (applied here, kept for a replay). */
function unreached(operation: string, cause: L2UnavailableError): L2UnavailableError {
  return new L2UnavailableError(
    cause.code as 'E_CACHE_L2_UNAVAILABLE',
    `${operation} did not reach Redis (${cause.message}); it applies to this instance and is replayed when Redis answers`,
    cause,
  )
}

/** The cache. Create it with {@link createCache}. */
export class Cache {
  /** The validated options, frozen. */
  readonly options: ResolvedCacheOptions
  /** This instance's id on the bus. */
  readonly instanceId: string
  private readonly l1: LRUCache<string, L1Record>
  private readonly l2: RedisTier | undefined
  private readonly bus: Bus | undefined
  /** Keeps and replays invalidations that could not reach Redis (with `redis` only). */
  private readonly recovery: AutoRecovery | undefined
  private readonly keys: KeySpace
  private readonly codec: Codec
  private readonly tags = new LocalTagVersions()
  private readonly flights = new Map<string, Flight>()
  /** Processes waiting here for another process's lease, by key (see waitForLease). */
  private readonly leaseWaiters = new Map<string, Set<LeaseWaiter>>()
  private readonly defaults: CallOptions
  private readonly clone: boolean
  private seq = 0
  /** L1 records stored before this time are stale (set when the bus goes down or comes back). */
  private demotedAt = 0
  private closed = false
  private busWasDown = false
  private leaseCounter = 0
  private readonly counters = {
    l1Hits: 0,
    l2Hits: 0,
    misses: 0,
    staleServed: 0,
    loaderCalls: 0,
    loaderErrors: 0,
    loaderTimeMs: 0,
    coalesced: 0,
    leaseWaits: 0,
    busIn: 0,
    busOut: 0,
    busLastLagMs: 0,
    l2Errors: 0,
    corruptEntries: 0,
  }

  constructor(options: CacheOptions = {}) {
    this.options = resolveCacheOptions(options)
    const o = this.options
    this.codec = options.codec ?? msgpackCodec()
    this.keys = new KeySpace(o.prefix, o.namespace)
    this.instanceId = randomBytes(8).toString('hex')
    this.clone = o.l1Values === 'clone'
    this.l1 = new LRUCache<string, L1Record>({
      max: o.l1MaxEntries,
      ...(o.l1MaxBytes > 0 ? { maxSize: o.l1MaxBytes } : {}),
      ttlAutopurge: false,
      updateAgeOnGet: false,
      allowStale: false,
    })
    this.defaults = Object.freeze({
      ttl: o.ttl,
      l1Ttl: o.l1Ttl,
      grace: o.grace,
      softTimeout: o.softTimeout,
      hardTimeout: o.hardTimeout,
      lease: o.lease,
      tagSuffixes: GENERATION_ONLY as string[],
    })
    if (options.redis !== undefined) {
      try {
        this.l2 = new RedisTier(
          options.redis,
          this.keys,
          o.redisTimeout,
          o.breakerThreshold,
          o.breakerCooldown,
          {
            onError: (operation, error) => this.onL2Error(operation, error),
            onBreaker: (state) => this.onBreaker(state),
          },
          options.redisOptions,
        )
      } catch (error) {
        if (error instanceof TypeError) throw new InvalidOptionError('redis', error.message)
        throw error
      }
      this.recovery = new AutoRecovery(
        this.l2,
        {
          namespace: o.namespace,
          instanceId: this.instanceId,
          bus: o.bus,
          maxItems: o.recoveryMaxItems,
          retryDelayMs: o.recoveryRetryDelay,
          holdMs: o.recoveryHold,
        },
        {
          demote: (key, bytes) => this.demotedBytes(key, bytes),
          applied: (suffixes, versions, overflowed) => this.onReplayed(suffixes, versions, overflowed),
          published: (message) => this.countOut(message),
        },
      )
      if (o.bus) {
        const client = this.l2.client
        this.bus = new Bus(
          this.l2.client,
          this.keys.channel,
          this.instanceId,
          {
            onMessage: (message) => this.onBusMessage(message),
            onConnected: () => this.onBusState(true),
            onDisconnected: () => this.onBusState(false),
            onError: (error) => this.onL2Error('bus', l2Error(client, 'Redis bus error', error)),
          },
          o.busHeartbeat,
        )
      }
    }
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
      return this.getOrSetForced(key, loader, options) as Promise<T>
    const record = this.l1.get(key)
    if (record !== undefined && record.seq === this.seq && record.freshUntil > Date.now()) {
      this.counters.l1Hits++
      if (channels.hit.hasSubscribers)
        channels.hit.publish({ namespace: this.options.namespace, key, tier: 'l1' })
      return (this.clone ? structuredClone(record.value) : record.value) as T
    }
    return this.getOrSetSlow(key, loader, options, record) as Promise<T>
  }

  /** The value of `key`, or `undefined` on a miss (a cached negative result is also `undefined`). */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const record = this.l1.get(key)
    if (record !== undefined && record.seq === this.seq && record.freshUntil > Date.now()) {
      this.counters.l1Hits++
      if (channels.hit.hasSubscribers)
        channels.hit.publish({ namespace: this.options.namespace, key, tier: 'l1' })
      return (this.clone ? structuredClone(record.value) : record.value) as T
    }
    const found = await this.lookup(key, record)
    return found === undefined ? undefined : (found.value as T)
  }

  /** Whether `key` has a fresh value (a cached negative result counts). */
  async has(key: string): Promise<boolean> {
    return (await this.lookup(key, this.l1.get(key))) !== undefined
  }

  /** The values of `keys` (undefined for misses), with one L2 round trip for all L1 misses. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<Array<T | undefined>> {
    this.assertOpen()
    const out = new Array<T | undefined>(keys.length).fill(undefined)
    const missing: number[] = []
    const stale: Array<L1Record | undefined> = []
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string
      const record = this.l1.get(key)
      const state = record === undefined ? INVALID : this.check(record, key)
      if (state === FRESH) {
        this.l1Hit(key)
        out[i] = this.out(record as L1Record) as T
      } else {
        missing.push(i)
        stale.push(state === STALE ? record : undefined)
      }
    }
    if (missing.length === 0 || this.l2 === undefined) {
      this.counters.misses += missing.length
      return out
    }
    try {
      const read = await this.l2.read(
        missing.map((i) => this.keys.entry(keys[i] as string)),
        [],
      )
      this.observe(GENERATION_SUFFIX, read.generation)
      for (let j = 0; j < missing.length; j++) {
        const i = missing[j] as number
        const hit = this.freshFromRead(keys[i] as string, read, j)
        if (hit !== undefined) out[i] = hit.value as T
        else this.counters.misses++
      }
    } catch (error) {
      if (!(error instanceof L2UnavailableError)) throw error
      // Redis is unavailable: serve what L1 still holds within grace (not while L2 is only held
      // after a recovery: it answers, and a peer's replay may be about to outdate these).
      const holding = this.recovery?.holding === true
      for (let j = 0; j < missing.length; j++) {
        const record = holding ? undefined : stale[j]
        if (record !== undefined) {
          this.counters.staleServed++
          out[missing[j] as number] = this.out(record) as T
        } else this.counters.misses++
      }
    }
    return out
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
  async getOrSetMany<T>(
    keys: readonly string[],
    batchLoader: BatchLoader<T>,
    options?: SetManyOptions,
  ): Promise<T[]> {
    this.assertOpen()
    const refresh = options?.refresh === true
    if (options?.bypass === true) {
      if (refresh) throw new InvalidOptionError('bypass', 'cannot be combined with refresh')
      const result = await this.callBatchLoader(keys, batchLoader)
      return keys.map(
        (key, k) => (result instanceof Map ? result.get(key) : (result as readonly T[])[k]) as T,
      )
    }
    const tagsOf = options?.tags
    const base = this.callOptions(options === undefined ? undefined : { ...options, tags: undefined })
    const out = new Array<T>(keys.length).fill(undefined as T)
    const missing: number[] = []
    const joined: Array<Promise<void>> = []
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string
      const record = refresh ? undefined : this.l1.get(key)
      if (record !== undefined && this.check(record, key) === FRESH) {
        this.l1Hit(key)
        out[i] = this.out(record) as T
        continue
      }
      const flight = this.flights.get(key)
      // A refresh joins only a load that cannot answer from the cache (see Flight.loading).
      if (flight !== undefined && (!refresh || flight.loading)) {
        this.counters.coalesced++
        joined.push(
          flight.promise.then((value) => {
            out[i] = value as T
          }),
        )
        continue
      }
      missing.push(i)
    }
    if (missing.length > 0) {
      const perKeyTags = missing.map((i) => this.tagSuffixesOf(tagsOf, keys[i] as string))
      const requested = [...new Set(perKeyTags.flatMap((t) => t.slice(1)))]
      const snapshotOf = (tagSuffixes: readonly string[], versions: Map<string, number>): number[] =>
        tagSuffixes.map((s) => versions.get(s) ?? this.tags.get(s))
      const versions = new Map<string, number>()
      const toLoad: number[] = []
      // Register flights first so that concurrent single-key calls join this batch.
      const settle = new Map<
        string,
        { resolve(v: unknown): void; reject(e: unknown): void; flight: Flight }
      >()
      for (const i of missing) {
        const key = keys[i] as string
        let resolve!: (v: unknown) => void
        let reject!: (e: unknown) => void
        const promise = new Promise<unknown>((res, rej) => {
          resolve = res
          reject = rej
        })
        promise.catch(this.swallowFlightError)
        const flight: Flight = { promise, invalidated: false, loading: refresh, announce: refresh }
        this.flights.set(key, flight)
        settle.set(key, { resolve, reject, flight })
      }
      try {
        if (this.l2 !== undefined && refresh) {
          // No read: only the versions to snapshot (local ones if Redis is unavailable).
          const suffixes = [GENERATION_SUFFIX, ...requested]
          try {
            const current = await this.l2.versions(suffixes)
            suffixes.forEach((s, k) => {
              const v = current[k] ?? 0
              versions.set(s, v)
              this.observe(s, v)
            })
          } catch (error) {
            if (!(error instanceof L2UnavailableError)) throw error
          }
          for (let j = 0; j < missing.length; j++) toLoad.push(j)
        } else if (this.l2 !== undefined) {
          try {
            const read = await this.l2.read(
              missing.map((i) => this.keys.entry(keys[i] as string)),
              requested,
            )
            versions.set(GENERATION_SUFFIX, read.generation)
            this.observe(GENERATION_SUFFIX, read.generation)
            requested.forEach((s, k) => {
              const v = read.requested[k] ?? 0
              versions.set(s, v)
              this.observe(s, v)
            })
            for (let j = 0; j < missing.length; j++) {
              const i = missing[j] as number
              const key = keys[i] as string
              const hit = this.freshFromRead(key, read, j)
              if (hit !== undefined) {
                out[i] = hit.value as T
                settle.get(key)?.resolve(hit.value)
              } else toLoad.push(j)
            }
          } catch (error) {
            if (!(error instanceof L2UnavailableError)) throw error
            for (let j = 0; j < missing.length; j++) toLoad.push(j)
          }
        } else {
          for (let j = 0; j < missing.length; j++) toLoad.push(j)
        }
        if (toLoad.length > 0) {
          const loadKeys = toLoad.map((j) => keys[missing[j] as number] as string)
          if (!refresh) this.counters.misses += loadKeys.length
          for (const key of loadKeys) {
            const pending = settle.get(key)
            if (pending !== undefined) pending.flight.loading = true
          }
          const result = await this.callBatchLoader(loadKeys, batchLoader)
          const writes: Array<{ key: string; bytes: Buffer; ttlMs: number }> = []
          const dropped: string[] = []
          const droppedKeys: string[] = []
          const announced: string[] = []
          for (let k = 0; k < toLoad.length; k++) {
            const j = toLoad[k] as number
            const i = missing[j] as number
            const key = keys[i] as string
            const value = result instanceof Map ? result.get(key) : (result as readonly T[])[k]
            out[i] = value as T
            const pending = settle.get(key)
            pending?.resolve(value)
            if (pending?.flight.invalidated) continue
            const tagSuffixes = perKeyTags[j] as string[]
            const write = this.prepare(
              key,
              value,
              { ...base, tagSuffixes },
              snapshotOf(tagSuffixes, versions),
            )
            if (write !== undefined) writes.push(write)
            else if (refresh) {
              dropped.push(this.keys.entry(key))
              droppedKeys.push(key)
            }
            if (refresh) announced.push(key)
          }
          if (writes.length > 0 && this.l2 !== undefined) {
            try {
              await this.l2.writeMany(writes)
            } catch (error) {
              // A refresh's new values must replace the old ones: keep their removal for a replay.
              if (refresh) this.keep(error, announced, KeyEffect.Delete)
              else this.tolerate(error)
            }
          }
          if (dropped.length > 0 && this.l2 !== undefined) {
            try {
              await this.l2.delete(dropped)
            } catch (error) {
              this.keep(error, droppedKeys, KeyEffect.Delete)
            }
          }
          if (announced.length > 0) this.publishDrop(announced)
        }
      } catch (error) {
        for (const { reject } of settle.values()) reject(error)
        throw error
      } finally {
        for (const [key, { flight }] of settle) if (this.flights.get(key) === flight) this.flights.delete(key)
      }
    }
    if (joined.length > 0) await Promise.all(joined)
    return out
  }

  /** One batch loader run, counted (calls, errors, time) and published on the loader channel. */
  private async callBatchLoader<T>(
    keys: readonly string[],
    batchLoader: BatchLoader<T>,
  ): Promise<Map<string, T> | readonly T[]> {
    const started = performance.now()
    this.counters.loaderCalls++
    try {
      return await batchLoader([...keys], { signal: NEVER_ABORTED })
    } catch (error) {
      this.counters.loaderErrors++
      throw error
    } finally {
      this.recordLoader(keys.join(','), started)
    }
  }

  // ---------------------------------------------------------------- writes

  /** Store `value` under `key` in both tiers; other instances drop their L1 copy. */
  async set(key: string, value: unknown, options?: SetOptions): Promise<void> {
    this.assertOpen()
    const call = this.callOptions(options)
    this.invalidateFlight(key)
    let snapshot: number[]
    if (this.l2 !== undefined && call.tagSuffixes.length > 1) {
      try {
        // One MGET of the generation and the tags (all in the namespace's slot: valid on a cluster).
        snapshot = await this.l2.versions(call.tagSuffixes)
        this.observeAll(call.tagSuffixes, snapshot)
      } catch (error) {
        if (!(error instanceof L2UnavailableError)) throw error
        snapshot = this.tags.snapshot(call.tagSuffixes)
      }
    } else {
      snapshot = this.tags.snapshot(call.tagSuffixes)
    }
    const write = this.prepare(key, value, call, snapshot)
    if (write !== undefined && this.l2 !== undefined) {
      try {
        await this.l2.write(write.key, write.bytes, write.ttlMs)
      } catch (error) {
        // The old value would stay in L2: keep its removal for a replay.
        this.keep(error, [key], KeyEffect.Delete)
      }
    }
    this.publishDrop([key])
  }

  /**
   * Remove `key` (or keys) from both tiers and from every instance's L1. Idempotent. Without
   * Redis at hand it applies here at once and is replayed later (see {@link InvalidationOptions}).
   */
  async delete(keys: string | readonly string[], options?: InvalidationOptions): Promise<void> {
    this.assertOpen()
    const reject = this.rejectsWhenUnreached(options)
    const list = typeof keys === 'string' ? [keys] : keys
    if (list.length === 0) return
    for (const key of list) {
      this.l1.delete(key)
      this.invalidateFlight(key)
    }
    if (this.l2 === undefined) return
    try {
      await this.l2.delete(list.map((key) => this.keys.entry(key)))
      await this.publishStrict({ i: this.instanceId, at: Date.now(), d: [...list] })
    } catch (error) {
      if (!(error instanceof L2UnavailableError)) throw error
      this.recovery?.deferKeys([...list], KeyEffect.Delete, error)
      if (reject) throw unreached('delete', error)
    }
  }

  /**
   * Make `key` (or keys) stale without removing it: the next read reloads, and the old value is
   * still served as a fallback within grace if the loader fails.
   */
  async expire(keys: string | readonly string[], options?: InvalidationOptions): Promise<void> {
    this.assertOpen()
    const reject = this.rejectsWhenUnreached(options)
    const list = typeof keys === 'string' ? [keys] : keys
    for (const key of list) this.demote(key)
    if (this.l2 === undefined || list.length === 0) return
    const l2 = this.l2
    try {
      await Promise.all(
        list.map((key) => l2.demoteEntry(this.keys.entry(key), (bytes) => this.demotedBytes(key, bytes))),
      )
      await this.publishStrict({ i: this.instanceId, at: Date.now(), x: [...list] })
    } catch (error) {
      if (!(error instanceof L2UnavailableError)) throw error
      this.recovery?.deferKeys([...list], KeyEffect.Expire, error)
      if (reject) throw unreached('expire', error)
    }
  }

  /** `bytes` (the L2 entry of `key`) made stale now, or undefined when it is not fresh (or unreadable). */
  private demotedBytes(key: string, bytes: Buffer): Buffer | undefined {
    const envelope = this.decode(key, bytes)
    if (envelope === undefined) return undefined
    const now = Date.now()
    if (envelope.freshUntil <= now) return undefined
    envelope.freshUntil = now
    if (envelope.staleUntil < now) envelope.staleUntil = now
    return encodeEnvelope(this.codec, envelope)
  }

  /**
   * Invalidate every entry that carries one of `tags`, on every instance: one atomic `INCRBY`
   * per tag on the server (in one script). Entries loading while this runs are stored stale.
   * Idempotent in effect (versions only rise). Without Redis at hand the bump applies here at
   * once and is replayed later (see {@link InvalidationOptions}).
   */
  async invalidateTags(tags: readonly string[], options?: InvalidateOptions): Promise<void> {
    this.assertOpen()
    const reject = this.rejectsWhenUnreached(options)
    if (tags.length === 0) return
    const mode = options?.mode ?? 'delete'
    if (mode !== 'delete' && mode !== 'expire')
      throw new InvalidOptionError('mode', `expected 'delete' or 'expire'`)
    const step = mode === 'delete' ? HARD_STEP : 1
    const suffixes = [...new Set(tags.map(tagSuffix))]
    if (this.l2 === undefined) {
      for (const s of suffixes) this.tags.bump(s, step)
      this.seq++
      return
    }
    let versions: number[]
    try {
      versions = await this.l2.bump(
        suffixes.map((s) => this.keys.tag(s)),
        step,
      )
    } catch (error) {
      if (!(error instanceof L2UnavailableError)) throw error
      // The bump the server will get at the replay, taken here now (see recovery/pending-invalidations.ts).
      for (const s of suffixes) this.tags.bump(s, step)
      this.seq++
      this.recovery?.deferTags(suffixes, step, error)
      if (reject) throw unreached('invalidateTags', error)
      return
    }
    this.observeAll(suffixes, versions)
    try {
      await this.publishStrict({
        i: this.instanceId,
        at: Date.now(),
        t: suffixes.map((s, k) => [s, versions[k] ?? 0]),
      })
    } catch (error) {
      if (!(error instanceof L2UnavailableError)) throw error
      this.recovery?.deferTags(suffixes, 0, error)
      if (reject) throw unreached('invalidateTags', error)
    }
  }

  /** `invalidateTags(tags, { mode: 'expire' })`: tagged entries become stale, kept as a fallback. */
  expireTags(tags: readonly string[], options?: InvalidationOptions): Promise<void> {
    return this.invalidateTags(
      tags,
      options?.onL2Unavailable === undefined
        ? EXPIRE_MODE
        : { mode: 'expire', onL2Unavailable: options.onL2Unavailable },
    )
  }

  /**
   * Invalidate every entry of the namespace, in every instance: bumps the namespace generation
   * (an implicit tag of every entry), which is O(1) on Redis and Redis Cluster alike. Old entries
   * then expire by their TTL.
   */
  async clear(options?: InvalidationOptions): Promise<void> {
    this.assertOpen()
    const reject = this.rejectsWhenUnreached(options)
    this.l1.clear()
    for (const flight of this.flights.values()) flight.invalidated = true
    if (this.l2 === undefined) {
      this.tags.bump(GENERATION_SUFFIX, HARD_STEP)
      this.seq++
      return
    }
    let generation: number | undefined
    try {
      ;[generation] = await this.l2.bump([this.keys.generation], HARD_STEP)
    } catch (error) {
      if (!(error instanceof L2UnavailableError)) throw error
      this.tags.bump(GENERATION_SUFFIX, HARD_STEP)
      this.seq++
      this.recovery?.deferClear(HARD_STEP, error)
      if (reject) throw unreached('clear', error)
      return
    }
    this.observe(GENERATION_SUFFIX, generation ?? 0)
    try {
      await this.publishStrict({
        i: this.instanceId,
        at: Date.now(),
        c: 1,
        t: [[GENERATION_SUFFIX, generation ?? 0]],
      })
    } catch (error) {
      if (!(error instanceof L2UnavailableError)) throw error
      this.recovery?.deferClear(0, error)
      if (reject) throw unreached('clear', error)
    }
  }

  /** Stop the bus, close owned connections and drop L1. Calls after this reject with `E_CACHE_CLOSED`. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.l1.clear()
    this.notifyLeaseWaiters(undefined)
    // One last replay of what is still pending (what it cannot deliver is reported as dropped).
    await this.recovery?.close()
    await this.bus?.close()
    await this.l2?.close()
  }

  /** Counters since creation, and the current tiers' state. */
  stats(): CacheStats {
    const r = this.recovery
    return {
      namespace: this.options.namespace,
      ...this.counters,
      busConnected: this.bus?.connected ?? false,
      breaker: this.l2?.breaker.state ?? 'none',
      l1Entries: this.l1.size,
      l1Bytes: this.l1.calculatedSize ?? 0,
      degraded: r?.degraded ?? false,
      pendingInvalidations: r?.pending ?? 0,
      oldestPendingMs: r?.oldestMs ?? 0,
      l2Held: r?.l2Held ?? false,
      invalidationReplays: r?.replays ?? 0,
      replayedInvalidations: r?.replayed ?? 0,
      replayFailures: r?.replayFailures ?? 0,
      pendingOverflows: r?.overflows ?? 0,
    }
  }

  /** Whether the bus subscriber is connected (false without Redis or with `bus: false`). */
  get busConnected(): boolean {
    return this.bus?.connected ?? false
  }

  // ---------------------------------------------------------------- miss path

  /**
   * The rest of `getOrSet` after its inlined L1 check: the value, or the promise of the flight it
   * starts or joins. Not `async` (one promise fewer per L2 hit): it runs inside `getOrSet`, which
   * turns a throw (a closed cache) into a rejection.
   */
  private getOrSetSlow(
    key: string,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    record: L1Record | undefined,
  ): unknown {
    this.assertOpen()
    let stale: Candidate | undefined
    if (record !== undefined) {
      const state = this.check(record, key)
      if (state === FRESH) {
        this.l1Hit(key)
        return this.out(record)
      }
      if (state === STALE) stale = { value: record.value, staleUntil: record.staleUntil }
    }
    const existing = this.flights.get(key)
    if (existing !== undefined) return this.join(key, existing)
    return this.startFlight(key, loader, this.callOptions(options), stale, false)
  }

  /** `getOrSet` with `refresh` or `bypass` (see {@link GetOrSetOptions}). */
  private async getOrSetForced(
    key: string,
    loader: Loader<unknown>,
    options: GetOrSetOptions,
  ): Promise<unknown> {
    this.assertOpen()
    if (options.refresh === true && options.bypass === true)
      throw new InvalidOptionError('bypass', 'cannot be combined with refresh')
    const call = this.callOptions(options)
    if (options.bypass === true) {
      // A flight that is not registered and already marked invalidated: the loader runs under the
      // call's timeouts and counters, and its value is returned but stored nowhere.
      const detached: Flight = {
        promise: undefined as unknown as Promise<unknown>,
        invalidated: true,
        loading: true,
        announce: false,
      }
      return this.runLoader(key, loader, call, NO_SNAPSHOT, undefined, detached, undefined)
    }
    const existing = this.flights.get(key)
    if (existing?.loading) return this.join(key, existing)
    // No flight, or one that may still answer from the cache: this refresh takes its place
    // (callers already on the old flight keep its result; later callers join the refresh).
    return this.startFlight(key, loader, call, undefined, true)
  }

  private join(key: string, flight: Flight): Promise<unknown> {
    this.counters.coalesced++
    if (channels.coalesced.hasSubscribers)
      channels.coalesced.publish({ namespace: this.options.namespace, key })
    return flight.promise
  }

  private startFlight(
    key: string,
    loader: Loader<unknown>,
    call: CallOptions,
    stale: Candidate | undefined,
    refresh: boolean,
  ): Promise<unknown> {
    const flight: Flight = {
      promise: undefined as unknown as Promise<unknown>,
      invalidated: false,
      loading: refresh,
      announce: refresh,
    }
    const promise = this.fly(key, loader, call, stale, flight, refresh)
    flight.promise = promise
    this.flights.set(key, flight)
    const end = (): void => this.endFlight(key, flight)
    promise.then(end, end)
    return promise
  }

  private endFlight(key: string, flight: Flight): void {
    // A flight that served stale on a soft timeout ends when its background load settles.
    if (flight.background !== undefined) return
    if (this.flights.get(key) === flight) this.flights.delete(key)
  }

  /**
   * The load of one key: read L2 (entry and tag versions in one MGET) or, for a refresh, only the
   * tag versions; then the loader (behind the lease when asked), stored with the versions read
   * BEFORE it ran (the refill race).
   */
  private async fly(
    key: string,
    loader: Loader<unknown>,
    call: CallOptions,
    stale: Candidate | undefined,
    flight: Flight,
    refresh: boolean,
  ): Promise<unknown> {
    // The server's versions read before the loader runs, generation first.
    let snapshot: number[] | undefined
    let l2Up = false
    const entryKey = this.l2 === undefined ? '' : this.keys.entry(key)
    if (this.l2 !== undefined && refresh) {
      try {
        snapshot = await this.l2.versions(call.tagSuffixes)
        l2Up = true
        this.observeAll(call.tagSuffixes, snapshot)
      } catch (error) {
        if (!(error instanceof L2UnavailableError)) throw error
      }
    } else if (this.l2 !== undefined) {
      try {
        const requestedTags = call.tagSuffixes.length === 1 ? NO_TAGS : call.tagSuffixes.slice(1)
        const read = await this.readEntry(key, entryKey, requestedTags, call.l1Ttl)
        const hit = read.hit
        if (hit?.fresh) return hit.value
        snapshot = [read.generation, ...read.requested]
        l2Up = true
        if (hit !== undefined && (stale === undefined || hit.staleUntil > stale.staleUntil)) stale = hit
      } catch (error) {
        if (!(error instanceof L2UnavailableError)) throw error
      }
    }
    // Without Redis (or while it is unavailable), the versions this instance knows.
    if (snapshot === undefined) snapshot = this.tags.snapshot(call.tagSuffixes)
    if (!refresh) {
      this.counters.misses++
      if (channels.miss.hasSubscribers) channels.miss.publish({ namespace: this.options.namespace, key })
    }

    let leaseToken: string | undefined
    if (call.lease && l2Up && this.l2 !== undefined) {
      const leaseKey = this.keys.lease(key)
      const token = `${this.instanceId}:${++this.leaseCounter}`
      let acquired = true
      try {
        acquired = await this.l2.acquireLease(leaseKey, token, this.options.leaseTtl)
      } catch (error) {
        if (!(error instanceof L2UnavailableError)) throw error
      }
      if (acquired) leaseToken = token
      else if (!refresh) {
        this.counters.leaseWaits++
        const requestedTags = call.tagSuffixes.length === 1 ? NO_TAGS : call.tagSuffixes.slice(1)
        const found = await this.waitForLease(key, entryKey, leaseKey, requestedTags, call.l1Ttl)
        if (found !== undefined) return found.value
      }
    }
    return this.runLoader(key, loader, call, snapshot, stale, flight, leaseToken)
  }

  /**
   * The single-key L2 read of `getOrSet`, `get`, `has` and lease waiters, without a script: ONE
   * MGET of the entry, the generation and `requestedTags` (the caller's tags, or the tags the
   * key's L1 record had), then the entry checked against the generation and its tags' versions
   * by {@link fromL2} (a fresh hit fills L1). Tags in the entry's header that were not requested
   * cost one more MGET ({@link entryTagVersions}), so every tag is checked whatever the caller
   * guessed. Also returns the versions read (generation, then `requestedTags`): the snapshot of
   * a load that follows a miss.
   */
  private async readEntry(
    key: string,
    entryKey: string,
    requestedTags: readonly string[],
    l1Ttl: number,
  ): Promise<EntryRead> {
    const reply = await (this.l2 as RedisTier).readOne(entryKey, requestedTags)
    this.observe(GENERATION_SUFFIX, reply.generation)
    for (let i = 0; i < requestedTags.length; i++)
      this.observe(requestedTags[i] as string, reply.requested[i] ?? 0)
    const envelope = reply.bytes === null ? undefined : this.decode(key, reply.bytes)
    const hit =
      envelope === undefined
        ? undefined
        : this.fromL2(
            key,
            reply.bytes as Buffer,
            reply.generation,
            await this.entryTagVersions(envelope.tags, requestedTags, reply.requested),
            l1Ttl,
            envelope,
          )
    return { hit, generation: reply.generation, requested: reply.requested }
  }

  /**
   * Versions of the tags in an entry's header, aligned with them: from the versions read with
   * it when the caller named the same tags (the usual case), else one more MGET.
   */
  private async entryTagVersions(
    tags: readonly string[],
    requestedTags: readonly string[],
    requested: readonly number[],
  ): Promise<readonly number[]> {
    if (tags.length === 0) return NO_VERSIONS
    const out = new Array<number>(tags.length)
    const missing: string[] = []
    for (let i = 0; i < tags.length; i++) {
      const at = requestedTags.indexOf(tags[i] as string)
      if (at >= 0) out[i] = requested[at] as number
      else missing.push(tags[i] as string)
    }
    if (missing.length === 0) return out
    const fetched = await (this.l2 as RedisTier).versions(missing)
    for (let i = 0, j = 0; i < tags.length; i++) if (out[i] === undefined) out[i] = fetched[j++] ?? 0
    return out
  }

  /**
   * Another process holds the lease of `key`: wait for its value, at most `leaseWait`.
   *
   * The holder writes the entry, releases the lease, then publishes a release notice (`l`) on the
   * bus. A waiter registers for the notice BEFORE its first check (lease held? entry fresh?), so
   * a notice that arrives at any point makes the next wait return at once: no lost wake-up. While
   * the bus is connected the waiter checks Redis only then (and once at the start); while it is
   * down (or `bus: false`), it polls, every `leasePoll` doubling up to 8x `leasePoll`. A lease
   * seen gone with no fresh entry means the holder failed (or died): the caller loads itself.
   */
  private async waitForLease(
    key: string,
    entryKey: string,
    leaseKey: string,
    requestedTags: readonly string[],
    l1Ttl: number,
  ): Promise<Candidate | undefined> {
    const l2 = this.l2 as RedisTier
    const deadline = Date.now() + this.options.leaseWait
    const waiter: LeaseWaiter = { notified: false, wake: undefined }
    let waiters = this.leaseWaiters.get(key)
    if (waiters === undefined) {
      waiters = new Set()
      this.leaseWaiters.set(key, waiters)
    }
    waiters.add(waiter)
    let poll = this.options.leasePoll
    try {
      while (!this.closed) {
        waiter.notified = false
        try {
          // Lease first, then the value: the holder writes before it releases.
          const held = await l2.leaseHeld(leaseKey)
          const { hit } = await this.readEntry(key, entryKey, requestedTags, l1Ttl)
          if (hit?.fresh) return hit
          if (!held) return undefined
        } catch (error) {
          if (!(error instanceof L2UnavailableError)) throw error
          return undefined
        }
        const remaining = deadline - Date.now()
        if (remaining <= 0 || this.closed) return undefined
        if (waiter.notified) continue
        const busUp = this.bus?.connected === true
        await this.leaseNotice(waiter, busUp ? remaining : Math.min(poll, remaining))
        if (!busUp) poll = Math.min(poll * 2, this.options.leasePoll * 8)
      }
      return undefined
    } finally {
      waiters.delete(waiter)
      if (waiters.size === 0 && this.leaseWaiters.get(key) === waiters) this.leaseWaiters.delete(key)
    }
  }

  /** Resolves on the waiter's next notice (release, bus state change, close) or after `ms`. */
  private leaseNotice(waiter: LeaseWaiter, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiter.wake = undefined
        resolve()
      }, ms)
      timer.unref()
      waiter.wake = () => {
        clearTimeout(timer)
        waiter.wake = undefined
        resolve()
      }
    })
  }

  /** Wake the lease waiters of `keys` (all of them when undefined). */
  private notifyLeaseWaiters(keys: readonly unknown[] | undefined): void {
    if (this.leaseWaiters.size === 0) return
    const sets = keys === undefined ? [...this.leaseWaiters.values()] : []
    if (keys !== undefined) {
      for (const key of keys) {
        const set = typeof key === 'string' ? this.leaseWaiters.get(key) : undefined
        if (set !== undefined) sets.push(set)
      }
    }
    for (const set of sets) {
      for (const waiter of set) {
        waiter.notified = true
        waiter.wake?.()
      }
    }
  }

  private runLoader(
    key: string,
    loader: Loader<unknown>,
    call: CallOptions,
    snapshot: number[],
    stale: Candidate | undefined,
    flight: Flight,
    leaseToken: string | undefined,
  ): Promise<unknown> {
    const controller = call.hardTimeout > 0 ? new AbortController() : undefined
    const context: LoaderContext = { key, signal: controller?.signal ?? NEVER_ABORTED, stale: stale?.value }
    flight.loading = true
    const started = performance.now()
    this.counters.loaderCalls++
    let loading: Promise<unknown>
    try {
      loading = Promise.resolve(loader(context))
    } catch (error) {
      loading = Promise.reject(error)
    }
    const stored = loading.then(
      async (value) => {
        this.recordLoader(key, started)
        try {
          await this.storeLoaded(key, value, call, snapshot, flight)
        } finally {
          // Also when the value cannot be stored (E_CACHE_SERIALIZATION): the lease must not wait out its TTL.
          if (leaseToken !== undefined) await this.releaseLease(key, leaseToken)
        }
        return value
      },
      async (error: unknown) => {
        this.counters.loaderErrors++
        this.recordLoader(key, started, error)
        if (leaseToken !== undefined) await this.releaseLease(key, leaseToken)
        throw error
      },
    )
    const soft = stale !== undefined ? call.softTimeout : 0
    const hard = call.hardTimeout
    if (soft === 0 && hard === 0) {
      return stale === undefined
        ? stored
        : stored.catch((error: unknown) => this.serveStale(key, stale, 'loader-error', error))
    }
    return new Promise<unknown>((resolve, reject) => {
      let done = false
      const timers: NodeJS.Timeout[] = []
      const finish = () => {
        done = true
        for (const t of timers) clearTimeout(t)
      }
      const background = () => {
        flight.background = stored
        stored.then(
          () => this.endBackground(key, flight),
          (error: unknown) => {
            this.endBackground(key, flight)
            this.tolerate(error)
          },
        )
      }
      if (soft > 0 && (hard === 0 || soft < hard)) {
        timers.push(
          setTimeout(() => {
            if (done) return
            finish()
            background()
            resolve(this.serveStale(key, stale as Candidate, 'soft-timeout', undefined))
          }, soft),
        )
      }
      if (hard > 0) {
        timers.push(
          setTimeout(() => {
            if (done) return
            finish()
            controller?.abort(new LoaderTimeoutError(key, hard))
            background()
            if (stale !== undefined) resolve(this.serveStale(key, stale, 'hard-timeout', undefined))
            else reject(new LoaderTimeoutError(key, hard))
          }, hard),
        )
      }
      stored.then(
        (value) => {
          if (done) return
          finish()
          resolve(value)
        },
        (error: unknown) => {
          if (done) return
          finish()
          if (stale !== undefined) resolve(this.serveStale(key, stale, 'loader-error', error))
          else reject(error)
        },
      )
    })
  }

  private endBackground(key: string, flight: Flight): void {
    flight.background = undefined
    if (this.flights.get(key) === flight) this.flights.delete(key)
  }

  private serveStale(key: string, stale: Candidate, reason: string, error: unknown): unknown {
    this.counters.staleServed++
    if (channels.stale.hasSubscribers) {
      channels.stale.publish({ namespace: this.options.namespace, key, reason, error })
    }
    return this.clone ? structuredClone(stale.value) : stale.value
  }

  /** Release our lease of `key`, then tell the waiters of other instances (bus notice `l`). */
  private async releaseLease(key: string, token: string): Promise<void> {
    await this.l2?.releaseLease(this.keys.lease(key), token).catch(this.tolerate)
    if (this.bus !== undefined) this.publish({ i: this.instanceId, at: Date.now(), l: [key] })
  }

  private recordLoader(key: string, started: number, error?: unknown): void {
    const durationMs = performance.now() - started
    this.counters.loaderTimeMs += durationMs
    if (channels.loader.hasSubscribers) {
      channels.loader.publish({ namespace: this.options.namespace, key, durationMs, error })
    }
  }

  /** Counts an L1 hit taken off the inlined fast paths and publishes it when someone listens. */
  private l1Hit(key: string): void {
    this.counters.l1Hits++
    if (channels.hit.hasSubscribers)
      channels.hit.publish({ namespace: this.options.namespace, key, tier: 'l1' })
  }

  /** Lookup without loader (get/has): L1, then L2, then a stale L1 value if Redis is unavailable. */
  private async lookup(key: string, record: L1Record | undefined): Promise<Candidate | undefined> {
    this.assertOpen()
    let stale: L1Record | undefined
    if (record !== undefined) {
      const state = this.check(record, key)
      if (state === FRESH) {
        this.l1Hit(key)
        return { value: this.out(record), staleUntil: record.staleUntil }
      }
      if (state === STALE) stale = record
    }
    if (this.l2 !== undefined) {
      try {
        if (record === undefined) {
          // Nothing here names the entry's tags: the read script returns the entry with the
          // versions of the tags in its header, so the read and its tag check stay one round trip.
          const read = await this.l2.read([this.keys.entry(key)], NO_TAGS)
          this.observe(GENERATION_SUFFIX, read.generation)
          const hit = this.freshFromRead(key, read, 0)
          if (hit !== undefined) return hit
          this.counters.misses++
          return undefined
        }
        // The tags the L1 record had (stale, demoted or invalidated) are the likely tags of the
        // L2 entry: read their versions in the same MGET, no script.
        const hint = record.tags.length === 1 ? NO_TAGS : record.tags.slice(1)
        const { hit } = await this.readEntry(key, this.keys.entry(key), hint, this.options.l1Ttl)
        if (hit?.fresh) return hit
        this.counters.misses++
        return undefined
      } catch (error) {
        if (!(error instanceof L2UnavailableError)) throw error
        // Not while L2 is only held after a recovery (see getMany).
        if (stale !== undefined && this.recovery?.holding !== true)
          return { value: this.serveStale(key, stale, 'l2-unavailable', error), staleUntil: 0 }
      }
    }
    this.counters.misses++
    return undefined
  }

  // ---------------------------------------------------------------- tiers

  /** The j-th entry of a multi-key L2 read when it is present and fresh (filled into L1), else undefined. */
  private freshFromRead(key: string, read: ReadResult, j: number): Candidate | undefined {
    const entry = read.entries[j]
    const hit = entry?.bytes
      ? this.fromL2(key, entry.bytes, read.generation, entry.versions, undefined)
      : undefined
    return hit?.fresh ? hit : undefined
  }

  /**
   * Decode an L2 entry and check its snapshot against the versions read with it. A fresh entry
   * fills L1; a stale one (soft-bumped tag, or past freshness within grace) is returned as a
   * fallback candidate; an invalid, foreign or corrupt one is a miss.
   */
  private fromL2(
    key: string,
    bytes: Buffer,
    generation: number,
    tagVersions: readonly number[],
    l1Ttl: number | undefined,
    decoded?: Envelope,
  ): (Candidate & { fresh: boolean }) | undefined {
    const envelope = decoded ?? this.decode(key, bytes)
    if (envelope === undefined) return undefined
    let state: number = compareVersion(envelope.versions[0] as number, generation)
    for (let i = 0; i < envelope.tags.length && state !== VersionState.Invalid; i++) {
      const current = tagVersions[i] ?? 0
      this.observe(envelope.tags[i] as string, current)
      const s = compareVersion(envelope.versions[i + 1] as number, current)
      if (s > state) state = s
    }
    if (state === VersionState.Invalid) return undefined
    const now = Date.now()
    if (state === VersionState.Fresh && envelope.freshUntil > now) {
      this.counters.l2Hits++
      if (channels.hit.hasSubscribers)
        channels.hit.publish({ namespace: this.options.namespace, key, tier: 'l2' })
      const value = this.toL1(key, envelope, bytes.length, l1Ttl ?? this.options.l1Ttl, now)
      return {
        value: this.clone ? structuredClone(value) : value,
        staleUntil: envelope.staleUntil,
        fresh: true,
      }
    }
    if (envelope.staleUntil > now)
      return { value: envelope.value, staleUntil: envelope.staleUntil, fresh: false }
    return undefined
  }

  private decode(key: string, bytes: Buffer): Envelope | undefined {
    try {
      return decodeEnvelope(this.codec, bytes)
    } catch (cause) {
      // Foreign or corrupt bytes (another library, a future format, a truncated write) are a
      // miss: the loader's value overwrites them. Counted and published, never thrown.
      this.counters.corruptEntries++
      if (channels.corrupt.hasSubscribers) {
        const error = new CacheError('E_CACHE_CORRUPT_ENTRY', `Unreadable entry for ${JSON.stringify(key)}`, {
          key,
          cause,
        })
        channels.corrupt.publish({ namespace: this.options.namespace, key, error })
      }
      return undefined
    }
  }

  /** Store a loader's `value` in both tiers (unless the flight was invalidated meanwhile), and announce a refresh. */
  private async storeLoaded(
    key: string,
    value: unknown,
    call: CallOptions,
    snapshot: number[],
    flight: Flight,
  ): Promise<void> {
    if (flight.invalidated || this.closed) return
    const write = this.prepare(key, value, call, snapshot)
    if (write !== undefined && this.l2 !== undefined) {
      try {
        await this.l2.write(write.key, write.bytes, write.ttlMs)
      } catch (error) {
        // A refresh's value must replace the old one: keep the old one's removal.
        if (flight.announce) this.keep(error, [key], KeyEffect.Delete)
        else this.tolerate(error)
      }
    }
    if (flight.announce) {
      // Nothing to store (a negative result with `negativeTtl: false`): the old entry must go.
      if (write === undefined && this.l2 !== undefined) {
        try {
          await this.l2.delete([this.keys.entry(key)])
        } catch (error) {
          this.keep(error, [key], KeyEffect.Delete)
        }
      }
      this.publishDrop([key])
    }
  }

  /**
   * Build the entry for `value` (negative caching, jitter, grace), put it in L1 and return its
   * L2 write (undefined when nothing goes to L2).
   */
  private prepare(
    key: string,
    value: unknown,
    call: CallOptions,
    snapshot: number[],
  ): { key: string; bytes: Buffer; ttlMs: number } | undefined {
    const negative = value === undefined || value === null
    if (negative && this.options.negativeTtl < 0) {
      this.l1.delete(key)
      return undefined
    }
    let ttl = negative ? this.options.negativeTtl : call.ttl
    if (this.options.jitter > 0)
      ttl = Math.max(1, Math.round(ttl * (1 - this.options.jitter * Math.random())))
    if (ttl <= 0) return undefined
    const now = Date.now()
    const envelope: Envelope = {
      createdAt: now,
      freshUntil: now + ttl,
      staleUntil: now + ttl + call.grace,
      tags: call.tagSuffixes.slice(1),
      versions: snapshot,
      value,
    }
    if (this.l2 === undefined) {
      this.toL1(key, envelope, this.options.l1MaxBytes > 0 ? estimateSize(value) : 0, ttl, now)
      return undefined
    }
    let bytes: Buffer
    try {
      bytes = encodeEnvelope(this.codec, envelope)
    } catch (error) {
      if (error instanceof CacheError)
        throw new CacheError(error.code, error.message, { key, cause: error.cause })
      throw new CacheError('E_CACHE_SERIALIZATION', `Entry for ${JSON.stringify(key)} cannot be stored`, {
        key,
        cause: error,
      })
    }
    this.toL1(key, envelope, bytes.length, call.l1Ttl, now)
    return { key: this.keys.entry(key), bytes, ttlMs: envelope.staleUntil - now }
  }

  private toL1(key: string, envelope: Envelope, size: number, l1Ttl: number, now: number): unknown {
    const value = this.options.l1Values === 'freeze' ? deepFreeze(envelope.value) : envelope.value
    let freshUntil = envelope.freshUntil
    if (this.l2 !== undefined) {
      freshUntil = Math.min(freshUntil, now + l1Ttl)
      if (envelope.tags.length > 0) freshUntil = Math.min(freshUntil, now + this.options.tagTrust)
      if (this.bus !== undefined && !this.bus.connected)
        freshUntil = Math.min(freshUntil, now + this.options.busDownL1Ttl)
    }
    const keepUntil = Math.max(freshUntil, envelope.staleUntil)
    if (keepUntil <= now) return value
    const tags = envelope.tags.length === 0 ? GENERATION_ONLY : [GENERATION_SUFFIX, ...envelope.tags]
    this.l1.set(
      key,
      {
        value,
        freshUntil,
        staleUntil: envelope.staleUntil,
        tags,
        versions: envelope.versions,
        seq: -1,
        storedAt: now,
      },
      this.options.l1MaxBytes > 0
        ? { ttl: keepUntil - now, size: Math.max(1, size) }
        : { ttl: keepUntil - now },
    )
    return value
  }

  /** Slow-path check of an L1 record against the tag table, the demotion time and the clock. */
  private check(record: L1Record, key: string): RecordState {
    const now = Date.now()
    let state: RecordState = record.freshUntil > now ? FRESH : STALE
    if (record.storedAt < this.demotedAt) state = STALE
    for (let i = 0; i < record.tags.length; i++) {
      const known = this.tags.known(record.tags[i] as string)
      const snapshot = record.versions[i] as number
      if (known === undefined || known <= snapshot) continue
      const s = compareVersion(snapshot, known)
      if (s === VersionState.Invalid) {
        this.l1.delete(key)
        return INVALID
      }
      state = STALE
    }
    if (state === FRESH) {
      record.seq = this.seq
      return FRESH
    }
    if (record.staleUntil > now) return STALE
    this.l1.delete(key)
    return INVALID
  }

  private out(record: L1Record): unknown {
    return this.clone ? structuredClone(record.value) : record.value
  }

  private demote(key: string): void {
    const record = this.l1.peek(key)
    if (record !== undefined) record.freshUntil = 0
  }

  private invalidateFlight(key: string): void {
    const flight = this.flights.get(key)
    if (flight !== undefined) flight.invalidated = true
  }

  private observe(suffix: string, version: number): void {
    if (this.tags.observe(suffix, version)) this.seq++
  }

  private observeAll(suffixes: readonly string[], versions: readonly number[]): void {
    for (let i = 0; i < suffixes.length; i++) this.observe(suffixes[i] as string, versions[i] ?? 0)
  }

  private tagSuffixesOf(tags: SetManyOptions['tags'], key: string): string[] {
    const list = typeof tags === 'function' ? tags(key) : tags
    if (list === undefined || list.length === 0) return GENERATION_ONLY as string[]
    return [GENERATION_SUFFIX, ...list.map(tagSuffix)]
  }

  private callOptions(options: SetOptions | undefined): CallOptions {
    if (options === undefined) return this.defaults
    const d = this.defaults
    if (options.tags !== undefined && !Array.isArray(options.tags)) {
      throw new InvalidOptionError('tags', 'expected an array of strings')
    }
    return {
      ttl: options.ttl === undefined ? d.ttl : toMilliseconds(options.ttl, 'ttl'),
      l1Ttl: options.l1Ttl === undefined ? d.l1Ttl : toMilliseconds(options.l1Ttl, 'l1Ttl'),
      grace: options.grace === undefined ? d.grace : durationOrOff(options.grace, 'grace'),
      softTimeout:
        options.softTimeout === undefined ? d.softTimeout : durationOrOff(options.softTimeout, 'softTimeout'),
      hardTimeout:
        options.hardTimeout === undefined ? d.hardTimeout : durationOrOff(options.hardTimeout, 'hardTimeout'),
      lease: options.lease ?? d.lease,
      tagSuffixes: this.tagSuffixesOf(options.tags, ''),
    }
  }

  // ---------------------------------------------------------------- bus and events

  private publish(message: BusMessage): void {
    this.publishStrict(message).catch(this.tolerate)
  }

  private async publishStrict(message: BusMessage): Promise<void> {
    if (this.bus === undefined || this.l2 === undefined) return
    await this.l2.publish(this.keys.channel, JSON.stringify(message))
    this.countOut(message)
  }

  /** Count (and publish on the bus channel) a notice this instance sent. */
  private countOut(message: BusMessage): void {
    this.counters.busOut++
    if (channels.bus.hasSubscribers)
      channels.bus.publish({ namespace: this.options.namespace, direction: 'out', message })
  }

  /** Tell the other instances to drop `keys` from L1; a notice that cannot be sent is kept for a replay. */
  private publishDrop(keys: string[]): void {
    if (this.bus === undefined) return
    this.publishStrict({ i: this.instanceId, at: Date.now(), d: keys }).catch((error: unknown) =>
      this.keep(error, keys, KeyEffect.Drop),
    )
  }

  /** An invalidating effect that did not reach Redis: kept for a replay; any other error tolerated. */
  private keep(error: unknown, keys: string[], effect: KeyEffect): void {
    if (error instanceof L2UnavailableError && this.recovery !== undefined && !this.closed)
      this.recovery.deferKeys(keys, effect, error)
    else this.tolerate(error)
  }

  /**
   * A replay's bumps reached the server. After an overflow (the pending set became a generation
   * bump) the local table may hold versions the server never got: L1 and the table start over.
   */
  private onReplayed(suffixes: readonly string[], versions: readonly number[], overflowed: boolean): void {
    if (overflowed) {
      this.l1.clear()
      this.tags.clear()
      for (const flight of this.flights.values()) flight.invalidated = true
      this.seq++
    }
    this.observeAll(suffixes, versions)
  }

  /** Whether an invalidation that did not reach Redis rejects (call > instance > default). */
  private rejectsWhenUnreached(options: InvalidationOptions | undefined): boolean {
    const outcome = options?.onL2Unavailable
    if (outcome === undefined) return this.options.onL2Unavailable === 'reject'
    if (outcome !== 'resolve' && outcome !== 'reject')
      throw new InvalidOptionError(
        'onL2Unavailable',
        `expected 'resolve' or 'reject', got ${String(outcome)}`,
      )
    return outcome === 'reject'
  }

  private onBusMessage(message: BusMessage): void {
    this.counters.busIn++
    const lagMs = typeof message.at === 'number' ? Date.now() - message.at : 0
    this.counters.busLastLagMs = lagMs
    if (channels.bus.hasSubscribers) {
      channels.bus.publish({ namespace: this.options.namespace, direction: 'in', lagMs, message })
    }
    if (message.c === 1) {
      this.l1.clear()
      for (const flight of this.flights.values()) flight.invalidated = true
    }
    if (Array.isArray(message.d)) {
      for (const key of message.d) {
        if (typeof key !== 'string') continue
        this.l1.delete(key)
        this.invalidateFlight(key)
      }
    }
    if (Array.isArray(message.x)) for (const key of message.x) if (typeof key === 'string') this.demote(key)
    if (Array.isArray(message.l)) this.notifyLeaseWaiters(message.l)
    if (Array.isArray(message.t)) {
      for (const pair of message.t) {
        if (Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'number') {
          this.observe(pair[0], pair[1])
        }
      }
    }
  }

  private onBusState(connected: boolean): void {
    // Messages may have been lost while disconnected (pub/sub keeps nothing): whatever L1 holds
    // now is demoted to stale, both when the subscriber drops and when it comes back. (Before the
    // first connection, L1 entries live at most busDownL1Ttl, which bounds what was missed.)
    if (!connected || this.busWasDown) {
      this.demotedAt = Date.now() + 1
      this.seq++
    }
    if (!connected) {
      this.busWasDown = true
      // Peers' notices may be lost from now on: stop trusting L2 until the link is back (and held).
      this.recovery?.linkLost()
    }
    // Waiters stop relying on notices (down) or go back to them (up): re-check now.
    this.notifyLeaseWaiters(undefined)
    if (channels.busState.hasSubscribers) {
      channels.busState.publish({
        namespace: this.options.namespace,
        state: connected ? 'connected' : 'disconnected',
      })
    }
  }

  private onL2Error(operation: string, error: L2UnavailableError): void {
    this.counters.l2Errors++
    if (channels.error.hasSubscribers)
      channels.error.publish({ namespace: this.options.namespace, operation, error })
  }

  private onBreaker(state: BreakerState): void {
    if (state === 'open') this.recovery?.linkLost()
    if (channels.breaker.hasSubscribers)
      channels.breaker.publish({ namespace: this.options.namespace, state })
  }

  /** Errors deliberately tolerated (best-effort L2 writes, background refreshes): counted and emitted. */
  private readonly tolerate = (error: unknown): void => {
    if (error instanceof L2UnavailableError) return // already counted and emitted by the tier
    this.counters.l2Errors++
    if (channels.error.hasSubscribers) {
      channels.error.publish({ namespace: this.options.namespace, operation: 'background', error })
    }
  }

  /** Batch flights reject their joiners with the batch's error; the batch caller gets it too. */
  private readonly swallowFlightError = (error: unknown): void => {
    if (channels.error.hasSubscribers) {
      channels.error.publish({ namespace: this.options.namespace, operation: 'batch', error })
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new CacheClosedError()
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
