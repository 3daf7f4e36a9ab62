import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterEach, describe, expect, it } from 'vitest'
import { CACHE_CHANNELS, createCache } from '../../../src/index.js'

/** Every L1 hit counted in stats() is also published on the hit channel, whichever path served it. */
describe('hit channel', () => {
  const seen: Array<{ key: string; tier: string }> = []
  const listener = (message: unknown) => {
    seen.push(message as { key: string; tier: string })
  }
  afterEach(() => {
    unsubscribe(CACHE_CHANNELS.hit, listener)
    seen.length = 0
  })

  it('publishes L1 hits of getOrSet, get, getMany and getOrSetMany as stats() counts them', async () => {
    const cache = createCache({ namespace: 'hits' })
    await cache.getOrSet('a', () => 1)
    await cache.getOrSet('b', () => 2)
    subscribe(CACHE_CHANNELS.hit, listener)
    const before = cache.stats().l1Hits

    await cache.getOrSet('a', () => 0)
    await cache.get('b')
    await cache.getMany(['a', 'b', 'missing'])
    await cache.getOrSetMany(['a', 'b'], (keys) => keys.map(() => 0))

    const counted = cache.stats().l1Hits - before
    expect(counted).toBe(6)
    expect(seen.filter((m) => m.tier === 'l1').map((m) => m.key)).toEqual(['a', 'b', 'a', 'b', 'a', 'b'])
    await cache.close()
  })
})
