/**
 * The cache sink: applies recorded invalidations (`cacheEffect`) to an `@ayala/cache` instance,
 * which bumps the tag versions in Redis and tells every instance's L1 through its bus. Tag
 * versions only rise and deletes repeat harmlessly, so a repeated delivery is harmless.
 *
 * The write path usually invalidates at once too (for latency); the outbox row is what makes the
 * invalidation survive a crash of the writer or a Redis outage: the relay retries until Redis
 * confirms. So the cache given here must reject when Redis did not take the invalidation.
 */
import type { CacheEffectPayload } from '../effects.js'
import { DELIVERED, type DeliveryOutcome, type OutboxSink } from './sink.js'

/** The part of an `@ayala/cache` `Cache` the sink uses. */
export interface CacheLike {
  invalidateTags(tags: readonly string[], options?: { mode?: 'delete' | 'expire' | undefined }): Promise<void>
  delete(keys: readonly string[]): Promise<void>
}

/** Options of {@link cacheSink}. */
export interface CacheSinkOptions {
  /** The cache (with its Redis tier: an L1-only cache cannot tell other instances). */
  cache: CacheLike
}

/** A sink applying `cacheEffect` invalidations. */
export function cacheSink(options: CacheSinkOptions): OutboxSink<CacheEffectPayload> {
  const { cache } = options
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
      if (tags.delete.size > 0) await cache.invalidateTags([...tags.delete], { mode: 'delete' })
      if (tags.expire.size > 0) await cache.invalidateTags([...tags.expire], { mode: 'expire' })
      if (keys.size > 0) await cache.delete([...keys])
      return items.map(() => DELIVERED)
    },
  }
}
