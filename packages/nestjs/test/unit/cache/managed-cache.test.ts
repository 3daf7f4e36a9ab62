import { createCache } from '@ayala/cache'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { InFlight, manageCache } from '../../../src/cache/managed-cache.js'
import { runWithCacheMode } from '../../../src/index.js'

/** The module's cache over an L1-only cache (no Redis): the request modes become per-call options. */
describe('the module cache in a request cache mode (L1 only)', () => {
  const cache = createCache({ namespace: 'unit' })
  const managed = manageCache(cache, new InFlight())

  afterEach(async () => {
    await cache.clear()
  })

  afterAll(async () => {
    await cache.close()
  })

  it('refresh overwrites through getOrSet and getOrSetMany; bypass stores nothing', async () => {
    await cache.set('a', 1)
    await cache.set('b', 1)
    expect(await runWithCacheMode('bypass', () => managed.getOrSet('a', () => 2))).toBe(2)
    expect(await cache.get('a')).toBe(1)
    expect(await runWithCacheMode('refresh', () => managed.getOrSet('a', () => 3))).toBe(3)
    expect(await cache.get('a')).toBe(3)
    expect(await runWithCacheMode('refresh', () => managed.getOrSetMany(['a', 'b'], () => [4, 5]))).toEqual([
      4, 5,
    ])
    expect(await cache.getMany(['a', 'b'])).toEqual([4, 5])
  })

  it("keeps a call's own refresh or bypass over the request's mode", async () => {
    await cache.set('a', 1)
    expect(await runWithCacheMode('refresh', () => managed.getOrSet('a', () => 2, { bypass: true }))).toBe(2)
    expect(await cache.get('a')).toBe(1)
    expect(await runWithCacheMode('bypass', () => managed.getOrSet('a', () => 3, { refresh: true }))).toBe(3)
    expect(await cache.get('a')).toBe(3)
  })
})
