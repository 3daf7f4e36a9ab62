/**
 * The cache sink: applies recorded invalidations (`cacheEffect`) to an `@ayala/cache` instance,
 * which bumps the tag versions in Redis and tells every instance's L1 through its bus. Tag
 * versions only rise and deletes repeat harmlessly, so a repeated delivery is harmless.
 *
 * The write path usually invalidates at once too (for latency); the outbox row is what makes the
 * invalidation survive a crash of the writer or a Redis outage: the relay retries until Redis
 * confirms. So the sink calls with `onL2Unavailable: 'reject'`: an invalidation Redis did not take
 * rejects (the cache still applies it locally and queues its own replay), and the relay retries
 * the effect with backoff until it does.
 */
import type { CacheEffectPayload } from '../effects.js'
import { OutboxError } from '../errors.js'
import { rejectUnknownKeys } from '../option-keys.js'
import { DELIVERED, type DeliveryOutcome, type OutboxSink } from './sink.js'

/** What the sink passes to each invalidation: Redis must confirm, or the call rejects. */
interface StrictOptions {
  onL2Unavailable?: 'resolve' | 'reject' | undefined
}

/** The part of an `@ayala/cache` `Cache` the sink uses. */
export interface CacheLike {
  invalidateTags(
    tags: readonly string[],
    options?: StrictOptions & { mode?: 'delete' | 'expire' | undefined },
  ): Promise<void>
  delete(keys: readonly string[], options?: StrictOptions): Promise<void>
}

const DELETE = Object.freeze({ mode: 'delete', onL2Unavailable: 'reject' } as const)
const EXPIRE = Object.freeze({ mode: 'expire', onL2Unavailable: 'reject' } as const)
const STRICT = Object.freeze({ onL2Unavailable: 'reject' } as const)

/** Options of {@link cacheSink}. */
export interface CacheSinkOptions {
  /** The cache (with its Redis tier: an L1-only cache cannot tell other instances). */
  cache: CacheLike
}

const CACHE_SINK_KEYS: ReadonlySet<string> = new Set(['cache'])

/**
 * A sink applying `cacheEffect` invalidations.
 *
 * @throws OutboxError `E_OUTBOX_INVALID_OPTION` for an unknown option or a `cache` without
 * `invalidateTags()` and `delete()`
 */
export function cacheSink(options: CacheSinkOptions): OutboxSink<CacheEffectPayload> {
  rejectUnknownKeys(options, CACHE_SINK_KEYS, 'cacheSink')
  const { cache } = options
  if (typeof cache?.invalidateTags !== 'function' || typeof cache.delete !== 'function') {
    throw new OutboxError('E_OUTBOX_INVALID_OPTION', 'cacheSink: cache must be an @ayala/cache Cache', {
      sink: 'cache',
    })
  }
  return {
    async deliver(items): Promise<readonly DeliveryOutcome[]> {
      // One call per mode for the whole batch: tags deduplicated, keys deduplicated.
      const tags = { delete: new Set<string>(), expire: new Set<string>() }
      const keys = new Set<string>()
      for (const { payload } of items) {
        const target = payload.mode === 'expire' ? tags.expire : tags.delete
        for (const tag of payload.tags ?? []) target.add(tag)
        for (const key of payload.keys ?? []) keys.add(key)
      }
      if (tags.delete.size > 0) await cache.invalidateTags([...tags.delete], DELETE)
      if (tags.expire.size > 0) await cache.invalidateTags([...tags.expire], EXPIRE)
      if (keys.size > 0) await cache.delete([...keys], STRICT)
      return items.map(() => DELIVERED)
    },
  }
}
