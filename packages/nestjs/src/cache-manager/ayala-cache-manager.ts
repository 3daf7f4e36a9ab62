/**
 * `AyalaCacheManager`: the API of `cache-manager` 7's `Cache` (what `@Inject(CACHE_MANAGER)`
 * gives an application using `@nestjs/cache-manager`) over an `@ayala/cache` `Cache`, so call
 * sites keep their `get`/`set`/`del`/`wrap`/`mget`/`mset`/`mdel`/`ttl`/`clear` and gain the two
 * tiers, the bus between instances, tags and grace.
 *
 * How each call maps, and where the semantics are cache-manager's:
 *
 * - TTLs are milliseconds, call > module `ttl`. cache-manager's "no expiry" (no TTL anywhere, or
 *   `ttl: 0`) becomes `noExpiryTtl`: an `@ayala/cache` entry always expires, so `ttl(key)` then
 *   answers that expiry where cache-manager answers `undefined` (the one difference in answers).
 * - `get` answers `undefined` on a miss (cache-manager 7); `mget` is one L2 round trip for all L1
 *   misses; `set`/`mset` resolve with what they were given; `del`/`mdel`/`clear` resolve `true`.
 *   `clear()` drops the namespace on every instance (one generation bump), not only this one's.
 * - `wrap(key, fn, ttl?, refreshThreshold?)` or `wrap(key, fn, { ttl, refreshThreshold, raw })`:
 *   `getOrSet`, so concurrent calls of one key run `fn` once (cache-manager coalesces in one
 *   process; here the flight is shared too, and with `lease: true` across processes), with the
 *   refill-race protection. A TTL given as a function of the value needs the value first: that
 *   form loads through a coalescing map of its own and `set`s with the computed TTL. A hit whose
 *   remaining freshness is under `refreshThreshold` answers at once and reloads in the
 *   background (`refresh` event), as cache-manager does; `raw: true` answers
 *   `{ value, expires }`. Both read the entry's expiry (`expiresAt`, one round trip with Redis).
 * - A third argument of `set`, `wrap`'s options and `mset` items may also carry `@ayala/cache`'s
 *   own per-call options (`tags`, `grace`, `l1Ttl`...): `set('k', v, { ttl: 5000, tags: ['client:7'] })`.
 *   `invalidateTags` and the rest are on {@link AyalaCacheManager.cache}.
 * - Events (`set`, `del`, `clear`, `refresh`, and `get`/`mget`/`mset`/`mdel`/`ttl`) are emitted
 *   only when someone listens: the L1 hit of `get` and `wrap` allocates nothing for them.
 * - `stores` is empty (the tiers are `@ayala/cache`'s, not Keyv instances); `disconnect()` closes
 *   the cache when this manager owns it (the module created it), else does nothing.
 */
import { EventEmitter } from 'node:events'
import type { Cache, GetOrSetOptions, SetOptions } from '@ayala/cache'
import { InvalidOptionError } from '../errors.js'

/** Per-call options: a TTL in ms, or `@ayala/cache` options with `ttl` in ms. */
export type CacheManagerCallOptions = number | (Omit<SetOptions, 'ttl'> & { ttl?: number | undefined })

/** Options of `wrap` (cache-manager's, and `@ayala/cache`'s per-call options). */
export interface CacheManagerWrapOptions<T> extends Omit<GetOrSetOptions, 'ttl' | 'refresh' | 'bypass'> {
  /** TTL in ms, or a function of the loaded value. */
  ttl?: number | ((value: T) => number) | undefined
  /** Reload in the background when a hit has less than this left (ms), or a function of the value. */
  refreshThreshold?: number | ((value: T) => number) | undefined
  /** Answer `{ value, expires }` instead of the value. */
  raw?: boolean | undefined
}

/** What `wrap(..., { raw: true })` answers (cache-manager's `StoredDataRaw`). */
export interface CacheManagerRawData<T> {
  value?: T | undefined
  /** Expiry, ms since the epoch. */
  expires?: number | undefined
}

/** An item of `mset`. */
export interface CacheManagerItem<T> {
  key: string
  value: T
  /** TTL in ms. */
  ttl?: number | undefined
}

/** Settings of a manager (resolved by the module). */
export interface CacheManagerSettings {
  /** Default TTL in ms; `undefined`: no expiry (then `noExpiryTtlMs`). */
  readonly ttlMs: number | undefined
  /** What "no expiry" becomes, in ms. */
  readonly noExpiryTtlMs: number
  /** Default refresh threshold in ms; `undefined`: none. */
  readonly refreshThresholdMs: number | undefined
  /** `cacheId()`. */
  readonly cacheId: string
  /** `disconnect()` closes the cache. */
  readonly owned: boolean
}

const MEMO_LIMIT = 64

/** The `cache-manager` 7 API over an `@ayala/cache` `Cache` (see the module note). */
export class AyalaCacheManager {
  /** The underlying `@ayala/cache` instance: tags, `expire`, `stats()`, `getOrSetMany`... */
  readonly cache: Cache
  /** cache-manager's Keyv stores: none here (the tiers are `@ayala/cache`'s). */
  readonly stores: never[] = []
  /** Background refreshes of `wrap` (refresh-ahead) run, and those whose loader or write failed. */
  readonly refreshStats = { refreshes: 0, failures: 0 }
  private readonly settings: CacheManagerSettings
  private readonly events = new EventEmitter()
  /** One frozen options object per TTL in use, so a call allocates none. */
  private readonly byTtl = new Map<number, GetOrSetOptions>()
  private readonly defaults: GetOrSetOptions
  /** Loads of the `ttl`-as-a-function form of `wrap` (their own coalescing). */
  private readonly flights = new Map<string, Promise<unknown>>()
  /** Background refreshes in flight (one per key). */
  private readonly refreshing = new Set<string>()

  constructor(cache: Cache, settings: CacheManagerSettings) {
    this.cache = cache
    this.settings = settings
    this.defaults = Object.freeze({ ttl: settings.ttlMs ?? settings.noExpiryTtlMs })
  }

  /** The value of `key`, or `undefined`. */
  async get<T>(key: string): Promise<T | undefined> {
    const value = await this.cache.get<T>(key)
    if (this.events.listenerCount('get') > 0) this.events.emit('get', { key, value })
    return value
  }

  /** The values of `keys` (`undefined` for misses): one L2 round trip for all L1 misses. */
  async mget<T>(keys: string[]): Promise<Array<T | undefined>> {
    const values = await this.cache.getMany<T>(keys)
    if (this.events.listenerCount('mget') > 0) this.events.emit('mget', { keys, values })
    return values
  }

  /** When `key` expires (ms since the epoch), or `undefined` when it has no fresh value. */
  async ttl(key: string): Promise<number | undefined> {
    const expires = await this.cache.expiresAt(key)
    if (this.events.listenerCount('ttl') > 0) this.events.emit('ttl', { key, value: expires })
    return expires
  }

  /** Store `value` under `key` (TTL in ms; 0: no expiry); resolves with `value`. */
  async set<T>(key: string, value: T, ttl?: CacheManagerCallOptions): Promise<T> {
    try {
      await this.cache.set(key, value, this.options(ttl))
    } catch (error) {
      if (this.events.listenerCount('set') > 0) this.events.emit('set', { key, value, error })
      throw error
    }
    if (this.events.listenerCount('set') > 0) this.events.emit('set', { key, value })
    return value
  }

  /** Store every item; resolves with the items, each with its TTL (the default filled in). */
  async mset<T>(list: Array<CacheManagerItem<T>>): Promise<Array<{ key: string; value: T; ttl?: number }>> {
    const items = list.map(({ key, value, ttl }) => {
      const ms = ttl ?? this.settings.ttlMs
      return ms === undefined ? { key, value } : { key, value, ttl: ms }
    })
    await Promise.all(
      items.map((item) => this.cache.set(item.key, item.value, this.options((item as { ttl?: number }).ttl))),
    )
    if (this.events.listenerCount('mset') > 0) this.events.emit('mset', { list: items })
    return items
  }

  /** Remove `key` from both tiers and every instance's L1. */
  async del(key: string): Promise<boolean> {
    await this.cache.delete(key)
    if (this.events.listenerCount('del') > 0) this.events.emit('del', { key })
    return true
  }

  /** Remove `keys` from both tiers and every instance's L1. */
  async mdel(keys: string[]): Promise<boolean> {
    await this.cache.delete(keys)
    if (this.events.listenerCount('mdel') > 0) this.events.emit('mdel', { keys })
    return true
  }

  /** Drop every entry of the namespace, on every instance. */
  async clear(): Promise<boolean> {
    await this.cache.clear()
    if (this.events.listenerCount('clear') > 0) this.events.emit('clear')
    return true
  }

  /** The cached value of `key`, else `fnc()`'s (run once however many callers miss together). */
  wrap<T>(
    key: string,
    fnc: () => T | Promise<T>,
    ttl?: number | ((value: T) => number),
    refreshThreshold?: number | ((value: T) => number),
  ): Promise<T>
  wrap<T>(
    key: string,
    fnc: () => T | Promise<T>,
    options: CacheManagerWrapOptions<T> & { raw: true },
  ): Promise<CacheManagerRawData<T>>
  wrap<T>(key: string, fnc: () => T | Promise<T>, options: CacheManagerWrapOptions<T>): Promise<T>
  async wrap<T>(
    key: string,
    fnc: () => T | Promise<T>,
    ttlOrOptions?: number | ((value: T) => number) | CacheManagerWrapOptions<T>,
    refreshThreshold?: number | ((value: T) => number),
  ): Promise<T | CacheManagerRawData<T>> {
    const object = typeof ttlOrOptions === 'object' && ttlOrOptions !== null
    if (!object && refreshThreshold === undefined && this.settings.refreshThresholdMs === undefined) {
      // The common form, the hot path: no option object built for a TTL already seen.
      if (typeof ttlOrOptions !== 'function')
        return this.cache.getOrSet(key, fnc as () => Promise<T>, this.options(ttlOrOptions))
    }
    const {
      ttl,
      refreshThreshold: threshold,
      raw,
      ...rest
    } = object
      ? (ttlOrOptions as CacheManagerWrapOptions<T>)
      : { ttl: ttlOrOptions as CacheManagerWrapOptions<T>['ttl'], refreshThreshold, raw: false }
    let loaded = false
    const load = async (): Promise<T> => {
      loaded = true
      return fnc()
    }
    const value =
      typeof ttl === 'function'
        ? await this.loadWithComputedTtl(key, load, ttl, rest)
        : await this.cache.getOrSet(key, load, this.options(ttl, rest))
    const limit = threshold === undefined ? this.settings.refreshThresholdMs : runIfFn(threshold, value)
    if (!raw && (loaded || limit === undefined)) return value
    const expires = await this.cache.expiresAt(key)
    if (!loaded && limit !== undefined && expires !== undefined && expires - Date.now() < limit)
      this.refreshInBackground(key, fnc, ttl, rest)
    return raw ? { value, expires } : value
  }

  /** Listen to an event (`set`, `del`, `clear`, `refresh`, `get`, `mget`, `mset`, `mdel`, `ttl`). */
  on(event: string, listener: (...args: any[]) => void): EventEmitter {
    return this.events.addListener(event, listener)
  }

  /** Stop listening. */
  off(event: string, listener: (...args: any[]) => void): EventEmitter {
    return this.events.removeListener(event, listener)
  }

  /** Close the cache when this manager owns it (the module created it); else nothing. */
  async disconnect(): Promise<undefined> {
    if (this.settings.owned) await this.cache.close()
    return undefined
  }

  /** This manager's id (`cacheId` option, default the cache's namespace). */
  cacheId(): string {
    return this.settings.cacheId
  }

  /** `@ayala/cache` options of a call: the memoised object of a plain TTL, else a fresh one. */
  private options(ttl: CacheManagerCallOptions | undefined, rest?: object): GetOrSetOptions {
    if (typeof ttl === 'object' && ttl !== null) {
      const { ttl: ms, ...others } = ttl
      return { ...others, ttl: this.ttlOf(ms) }
    }
    if (rest !== undefined && Object.keys(rest).length > 0) return { ...rest, ttl: this.ttlOf(ttl) }
    if (ttl === undefined) return this.defaults
    const ms = this.ttlOf(ttl)
    let options = this.byTtl.get(ms)
    if (options === undefined) {
      options = Object.freeze({ ttl: ms })
      if (this.byTtl.size < MEMO_LIMIT) this.byTtl.set(ms, options)
    }
    return options
  }

  /** A TTL in ms: the call's, else the module's; 0 or none is "no expiry" (`noExpiryTtl`). */
  private ttlOf(ttl: number | undefined): number {
    const ms = ttl ?? this.settings.ttlMs
    if (ms === undefined || ms === 0) return this.settings.noExpiryTtlMs
    if (typeof ms !== 'number' || !(ms > 0) || !Number.isFinite(ms))
      throw new InvalidOptionError('ttl', `expected milliseconds (a number above 0), got ${String(ms)}`)
    return ms
  }

  /** `wrap` with a TTL computed from the value: coalesced here, stored with `set`. */
  private async loadWithComputedTtl<T>(
    key: string,
    load: () => Promise<T>,
    ttl: (value: T) => number,
    rest: object,
  ): Promise<T> {
    const found = await this.cache.get<T>(key)
    if (found !== undefined) return found
    let flight = this.flights.get(key) as Promise<T> | undefined
    if (flight === undefined) {
      flight = (async () => {
        try {
          const value = await load()
          await this.cache.set(key, value, { ...rest, ttl: this.ttlOf(ttl(value)) })
          return value
        } finally {
          this.flights.delete(key)
        }
      })()
      this.flights.set(key, flight)
    }
    return flight
  }

  /** cache-manager's refresh-ahead: reload `key` in the background, once at a time. */
  private refreshInBackground<T>(
    key: string,
    fnc: () => T | Promise<T>,
    ttl: CacheManagerWrapOptions<T>['ttl'],
    rest: object,
  ): void {
    if (this.refreshing.has(key)) return
    this.refreshing.add(key)
    const run = async (): Promise<void> => {
      const value = await fnc()
      const ms = typeof ttl === 'function' ? ttl(value) : ttl
      await this.cache.set(key, value, this.options(ms, rest))
      this.refreshStats.refreshes++
      if (this.events.listenerCount('refresh') > 0) this.events.emit('refresh', { key, value })
    }
    run()
      .catch((error: unknown) => {
        // Tolerated as cache-manager does (the caller already has the cached value): counted and
        // emitted as a `refresh` event with the error.
        this.refreshStats.failures++
        if (this.events.listenerCount('refresh') > 0) this.events.emit('refresh', { key, error })
      })
      .finally(() => this.refreshing.delete(key))
  }
}

function runIfFn<T>(value: number | ((v: T) => number), arg: T): number {
  return typeof value === 'function' ? value(arg) : value
}
