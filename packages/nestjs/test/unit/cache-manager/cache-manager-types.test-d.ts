/**
 * The drop-in is a cache-manager 7 `Cache` for the type checker: call sites typed
 * `@Inject(CACHE_MANAGER) cache: Cache` (from 'cache-manager') compile unchanged against it.
 */
import type { Cache } from 'cache-manager'
import { describe, expectTypeOf, it } from 'vitest'
import type { AyalaCacheManager } from '../../../src/cache-manager/index.js'

describe('AyalaCacheManager', () => {
  it("is assignable to cache-manager's Cache", () => {
    expectTypeOf<AyalaCacheManager>().toExtend<Cache>()
  })

  it("takes cache-manager's call forms and its own per-call options", () => {
    const cache = {} as AyalaCacheManager
    expectTypeOf(cache.get<number>('k')).toEqualTypeOf<Promise<number | undefined>>()
    expectTypeOf(cache.set('k', 1, 1000)).toEqualTypeOf<Promise<number>>()
    expectTypeOf(cache.set('k', 1, { ttl: 1000, tags: ['client:7'] })).toEqualTypeOf<Promise<number>>()
    expectTypeOf(cache.wrap('k', () => 1, 1000, 500)).toEqualTypeOf<Promise<number>>()
    expectTypeOf(cache.wrap('k', async () => 'x', { ttl: (v: string) => v.length })).toEqualTypeOf<
      Promise<string>
    >()
    expectTypeOf(cache.wrap('k', () => 1, { raw: true })).toExtend<Promise<{ value?: number | undefined }>>()
    expectTypeOf(cache.ttl('k')).toEqualTypeOf<Promise<number | undefined>>()
  })
})
