import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { type PrivateRedis, startPrivateRedis, uniqueName } from '@ayala/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { type Cache, createCache } from '../../../src/index.js'
import { eventually } from '../../helpers/fixture.js'

describe('Redis stopped mid-run', () => {
  let redis: PrivateRedis | undefined
  const caches: Cache[] = []
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((c) => c.close()))
    await redis?.dispose()
  })

  it('callers get loader values, the breaker opens, and the cache recovers after restart', async () => {
    redis = await startPrivateRedis()
    const ns = uniqueName('cache')
    const options = {
      redis: redis.url,
      namespace: ns,
      redisTimeout: '200ms',
      breakerThreshold: 3,
      breakerCooldown: '300ms',
      grace: '1m',
      // L1 entries written while the bus is down would otherwise live 1 s; this test is about
      // the fallback, not that bound (a slow CI machine could cross it between two calls).
      busDownL1Ttl: '1m',
    } as const
    const cache = createCache(options)
    const peer = createCache(options)
    caches.push(cache, peer)
    const states: string[] = []
    const onBreaker = (event: unknown) => {
      const e = event as { namespace: string; state: string }
      if (e.namespace === ns) states.push(e.state)
    }
    subscribe('ayala:cache:breaker', onBreaker)
    try {
      expect(await eventually(() => cache.busConnected && peer.busConnected)).toBe(true)
      await cache.set('cached', 'from-before')
      expect(await peer.get('cached')).toBe('from-before')

      await redis.stop()
      let loads = 0
      const results: unknown[] = []
      for (let i = 0; i < 20; i++) {
        results.push(
          await cache.getOrSet(`key:${i % 5}`, async () => {
            loads++
            return `loaded:${i % 5}`
          }),
        )
      }
      // Every call resolved with a loader value (from L1 after the first load of each key).
      expect(results).toEqual(Array.from({ length: 20 }, (_, i) => `loaded:${i % 5}`))
      expect(loads).toBe(5)
      expect(states).toContain('open')
      expect(cache.stats().breaker).not.toBe('closed')
      // The peer still serves what its L1 holds (demoted to stale when its bus dropped).
      expect(await eventually(() => !peer.busConnected)).toBe(true)
      expect(await peer.get('cached')).toBe('from-before')
      // An invalidation applies here at once and is kept for a replay (auto-recovery); the call
      // resolves by default, rejects when asked to.
      await expect(cache.delete('cached')).resolves.toBeUndefined()
      expect(cache.stats()).toMatchObject({ degraded: true, pendingInvalidations: 1, l2Held: true })
      await expect(cache.delete('cached', { onL2Unavailable: 'reject' })).rejects.toMatchObject({
        code: expect.stringMatching(/^E_CACHE_/),
        retriable: true,
      })

      await redis.start()
      expect(
        await eventually(() => !cache.stats().degraded && cache.stats().breaker === 'closed', 20_000),
      ).toBe(true)
      expect(cache.stats().invalidationReplays).toBe(1)
      await cache.set('after', 'restart')
      expect(await eventually(() => cache.busConnected && peer.busConnected, 20_000)).toBe(true)
      expect(await eventually(async () => (await peer.get('after')) === 'restart')).toBe(true)
      // Invalidation flows through the reconnected bus again.
      expect(
        await eventually(() =>
          cache.delete('after').then(
            () => true,
            () => false,
          ),
        ),
      ).toBe(true)
      expect(await eventually(async () => (await peer.get('after')) === undefined)).toBe(true)
    } finally {
      unsubscribe('ayala:cache:breaker', onBreaker)
    }
  })

  it('an unreachable Redis from the start costs nothing once the breaker is open', async () => {
    const cache = createCache({
      redis: 'redis://127.0.0.1:1',
      namespace: uniqueName('cache'),
      redisTimeout: '100ms',
      breakerThreshold: 2,
      breakerCooldown: '10s',
    })
    caches.push(cache)
    let loads = 0
    for (let i = 0; i < 10; i++) {
      expect(
        await cache.getOrSet(`k${i}`, async () => {
          loads++
          return i
        }),
      ).toBe(i)
    }
    expect(loads).toBe(10)
    expect(cache.stats().breaker).toBe('open')
    expect(cache.stats().l2Held).toBe(true)
    expect(cache.stats().l2Errors).toBeGreaterThanOrEqual(2)
  })
})
