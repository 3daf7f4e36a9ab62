/**
 * The contenders of the cache scenarios behind one small interface, each configured with the
 * same semantics: L1 in memory bounded at 10,000 entries + L2 on the same Redis, a 10-minute TTL,
 * its own namespace under the run prefix, coalescing of concurrent misses on (every library's
 * getOrSet/wrap coalesces by default), no bus (ours keeps its default bus; a subscriber costs
 * nothing on the paths measured).
 *
 * Methods are plain pass-throughs returning the library's promise, the same shape for the
 * baselines, so every contender pays the same wrapper cost.
 */
import KeyvRedis from '@keyv/redis'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import { Cacheable, createKeyv, Keyv } from 'cacheable'
import { Redis } from 'ioredis'
import { LRUCache } from 'lru-cache'
import { pack, unpack } from 'msgpackr'
import { type AyalaCache, loadAyala } from './ayala.js'
import { TTL_MS } from './fixtures.js'

/** L1 entry bound given to every contender that has an L1. */
export const L1_MAX_ENTRIES = 10_000

/** A value loader; only called on a miss. */
export type Loader = () => Promise<unknown>

/** What a scenario may call on a contender. */
export interface Contender {
  getOrSet(key: string, loader: Loader, tags: readonly string[] | undefined): Promise<unknown>
  get(key: string): Promise<unknown>
  set(key: string, value: unknown, tags: readonly string[] | undefined): Promise<unknown>
  getMany(keys: readonly string[]): Promise<unknown>
  /** Drop these keys from L1 only (L2 keeps them); run outside the timed window. */
  evictL1(keys: readonly string[]): Promise<void> | void
  close(): Promise<void>
}

/** Where a contender keeps its data. */
export interface ContenderEnv {
  /** Redis URL (the shared server, or the counting proxy in front of it). */
  url: string
  /** Namespace of this contender: the run prefix and a slug, letters, digits and dashes only. */
  namespace: string
}

/** A named way to build a contender. */
export interface ContenderFactory {
  /** Row name in the result tables. */
  name: string
  /** Short slug used in the Redis namespace. */
  slug: string
  /** Whether the contender supports tags at all. */
  tags: boolean
  /** How getMany is done (`native`, or how it is emulated). */
  getMany: string
  /** Notes printed under the table. */
  note?: string | undefined
  /** Missing (e.g. our cache not built yet): the reason; the scenario skips it. */
  missing?: (() => Promise<string | undefined>) | undefined
  create(env: ContenderEnv): Promise<Contender>
}

/** Row name of our cache. */
export const AYALA = '@ayala/cache'

/** `@ayala/cache`, through its public API. */
export function ayalaContender(extra: Record<string, unknown> = {}): ContenderFactory {
  return {
    name: AYALA,
    slug: 'ayala',
    tags: true,
    getMany: 'native',
    async missing() {
      const module = await loadAyala()
      return module.ready ? undefined : module.reason
    },
    async create(env) {
      const module = await loadAyala()
      if (!module.ready) throw new Error(module.reason)
      const cache: AyalaCache = module.createCache({
        redis: env.url,
        namespace: env.namespace,
        ttl: TTL_MS,
        l1MaxEntries: L1_MAX_ENTRIES,
        ...extra,
      })
      const untagged = { ttl: TTL_MS }
      const tagOptions = new Map<readonly string[], { ttl: number; tags: readonly string[] }>()
      const options = (tags: readonly string[] | undefined) => {
        if (!tags) return untagged
        let found = tagOptions.get(tags)
        if (!found) {
          found = { ttl: TTL_MS, tags }
          tagOptions.set(tags, found)
        }
        return found
      }
      return {
        getOrSet: (key, loader, tags) => cache.getOrSet(key, loader, options(tags)),
        get: (key) => cache.get(key),
        set: (key, value, tags) => cache.set(key, value, options(tags)),
        getMany: (keys) => cache.getMany(keys),
        evictL1: (keys) => ayalaEvictL1(cache, keys),
        close: async () => {
          await cache.close()
        },
      }
    },
  }
}

/**
 * Drop keys from our L1 only. The public API has no L1-only eviction (`delete` and `expire` act
 * on both tiers and publish on the bus), so this deletes from the instance's L1 lru-cache
 * directly; the scenario records an error row if that is not there.
 */
function ayalaEvictL1(cache: AyalaCache, keys: readonly string[]): Promise<void> | void {
  const api = cache as unknown as Record<string, unknown>
  // The L1 is the instance's lru-cache (a private field at the type level, reachable at run time).
  const l1 = api.l1 as { delete?: (key: string) => unknown } | undefined
  if (l1 && typeof l1.delete === 'function') {
    for (const key of keys) l1.delete(key)
    return
  }
  if (typeof api.clearL1 === 'function') {
    ;(api.clearL1 as () => unknown)()
    return
  }
  throw new Error('@ayala/cache offers no L1-only eviction (l1.delete/clearL1) in this build')
}

/** bentocache 1.6 with a memory L1 (serialized, its default, or not) and a Redis L2. */
export function bentocacheContender(serialize: boolean): ContenderFactory {
  return {
    name: serialize ? 'bentocache (serialized L1)' : 'bentocache (serialize: false)',
    slug: serialize ? 'bento' : 'bento-raw',
    tags: true,
    getMany: 'emulated: Promise.all of get()',
    async create(env) {
      const connection = new Redis(env.url)
      const memory = memoryDriver({ maxItems: L1_MAX_ENTRIES, serialize })
      // Keep the L1 driver bentocache builds, to evict from L1 alone in cold-L1 scenarios.
      let l1: { delete(key: string): unknown } | undefined
      const captured = {
        options: memory.options,
        factory: (config: unknown) => {
          const driver = memory.factory(config)
          l1 = driver
          return driver
        },
      }
      const bento = new BentoCache({
        default: 'store',
        prefix: env.namespace,
        stores: {
          store: bentostore().useL1Layer(captured).useL2Layer(redisDriver({ connection })),
        },
      })
      return {
        getOrSet: (key, factory, tags) =>
          tags
            ? bento.getOrSet({ key, factory, ttl: TTL_MS, tags: tags as string[] })
            : bento.getOrSet({ key, factory, ttl: TTL_MS }),
        get: (key) => bento.get({ key }),
        set: (key, value, tags) =>
          tags
            ? bento.set({ key, value, ttl: TTL_MS, tags: tags as string[] })
            : bento.set({ key, value, ttl: TTL_MS }),
        getMany: (keys) => Promise.all(keys.map((key) => bento.get({ key }))),
        evictL1(keys) {
          if (!l1) throw new Error('bentocache built no L1 driver')
          for (const key of keys) l1.delete(key)
        },
        async close() {
          await bento.disconnect()
          connection.disconnect()
        },
      }
    },
  }
}

/**
 * cacheable 2.5: in-memory primary (`createKeyv`, LRU bounded) + `@keyv/redis` secondary.
 * Its `getOrSet` takes no tags: a tagged getOrSet is `get`, then `set(..., { tags })` on a miss,
 * on an instance created with `tags: true` (which checks tag freshness on every get).
 */
export function cacheableContender(tagged: boolean): ContenderFactory {
  return {
    name: tagged ? 'cacheable (tags: true)' : 'cacheable',
    slug: tagged ? 'cacheable-tags' : 'cacheable',
    tags: tagged,
    getMany: 'native',
    note: tagged ? 'getOrSet takes no tags: get, then set with tags on a miss' : undefined,
    async create(env) {
      const cache = new Cacheable({
        primary: createKeyv({ ttl: TTL_MS, lruSize: L1_MAX_ENTRIES }),
        secondary: new KeyvRedis(env.url),
        ttl: TTL_MS,
        namespace: env.namespace,
        tags: tagged,
      })
      const untagged = { ttl: TTL_MS }
      return {
        getOrSet: async (key, loader, tags) => {
          if (!tags) return cache.getOrSet(key, loader, untagged)
          const hit = await cache.get(key)
          if (hit !== undefined) return hit
          const value = await loader()
          await cache.set(key, value, { ttl: TTL_MS, tags: [...tags] })
          return value
        },
        get: (key) => cache.get(key),
        set: (key, value, tags) => cache.set(key, value, tags ? { ttl: TTL_MS, tags: [...tags] } : untagged),
        getMany: (keys) => cache.getMany([...keys]),
        async evictL1(keys) {
          await cache.primary.delete([...keys])
        },
        async close() {
          await cache.disconnect()
        },
      }
    },
  }
}

/** cache-manager 7: Keyv memory store (LRU bounded) + Keyv with `@keyv/redis`. No tags. */
export function cacheManagerContender(): ContenderFactory {
  return {
    name: 'cache-manager',
    slug: 'cache-manager',
    tags: false,
    getMany: 'native (mget)',
    async create(env) {
      const memory = createKeyv({ ttl: TTL_MS, lruSize: L1_MAX_ENTRIES })
      const l2 = new Keyv({ store: new KeyvRedis(env.url), namespace: env.namespace })
      const cache = createCacheManager({ stores: [memory, l2], ttl: TTL_MS })
      return {
        getOrSet: (key, loader, tags) => {
          if (tags) throw new Error('cache-manager has no tags')
          return cache.wrap(key, loader, TTL_MS)
        },
        get: (key) => cache.get(key),
        set: (key, value, tags) => {
          if (tags) throw new Error('cache-manager has no tags')
          return cache.set(key, value, TTL_MS)
        },
        getMany: (keys) => cache.mget([...keys]),
        async evictL1(keys) {
          await memory.delete([...keys])
        },
        async close() {
          await cache.disconnect()
        },
      }
    },
  }
}

/** Row name of the L1 baseline. */
export const LRU_BASELINE = 'baseline: async fn returning lru-cache.get'

/** The floor of an L1 hit: an async function returning `lruCache.get(key)`. L1 only. */
export function lruBaseline(): ContenderFactory {
  return {
    name: LRU_BASELINE,
    slug: 'lru',
    tags: false,
    getMany: 'keys.map(get)',
    async create() {
      const lru = new LRUCache<string, object>({ max: L1_MAX_ENTRIES, ttl: TTL_MS })
      const get = async (key: string) => lru.get(key)
      return {
        getOrSet: async (key, loader) => {
          const hit = lru.get(key)
          if (hit !== undefined) return hit
          const value = (await loader()) as object
          lru.set(key, value)
          return value
        },
        get,
        set: async (key, value) => {
          lru.set(key, value as object)
        },
        getMany: async (keys) => keys.map((key) => lru.get(key)),
        evictL1(keys) {
          for (const key of keys) lru.delete(key)
        },
        async close() {
          lru.clear()
        },
      }
    },
  }
}

/** Row name of the L2 baseline. */
export const RAW_BASELINE = 'baseline: ioredis getBuffer + msgpackr unpack'

/** The floor of an L2 hit: ioredis `getBuffer` (one round trip) + msgpackr `unpack`. No L1. */
export function rawRedisBaseline(): ContenderFactory {
  return {
    name: RAW_BASELINE,
    slug: 'raw',
    tags: false,
    getMany: 'native (mgetBuffer + unpack)',
    async create(env) {
      const redis = new Redis(env.url)
      const prefix = `${env.namespace}:`
      const get = async (key: string) => {
        const buffer = await redis.getBuffer(prefix + key)
        return buffer === null ? undefined : unpack(buffer)
      }
      return {
        getOrSet: async (key, loader) => {
          const hit = await get(key)
          if (hit !== undefined) return hit
          const value = await loader()
          await redis.set(prefix + key, pack(value), 'PX', TTL_MS)
          return value
        },
        get,
        set: (key, value) => redis.set(prefix + key, pack(value), 'PX', TTL_MS),
        getMany: async (keys) => {
          const buffers = await redis.mgetBuffer(...keys.map((key) => prefix + key))
          return buffers.map((buffer) => (buffer === null ? undefined : unpack(buffer)))
        },
        evictL1() {
          // No L1: every read goes to Redis already.
        },
        async close() {
          await redis.quit()
        },
      }
    },
  }
}
