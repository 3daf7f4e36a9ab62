/**
 * The drop-in when its Redis hangs or refuses (a TCP proxy of our own in front of the harness's
 * Redis, blackholed then cut): the `CacheInterceptor` route keeps answering 200 (the handler runs
 * on an L1 miss, an L1 hit is still served), `wrap` runs its function, and a `set` that cannot
 * reach Redis is tolerated as `@ayala/cache` tolerates it (kept in this instance's L1, counted in
 * `l2Errors`, the breaker opened, never thrown at the caller). Once the link is back, entries reach Redis again. Counts are asserted, never timings: every request of the outage was answered and
 * none failed.
 */
import { serviceUrls, startTcpProxy, type TcpProxy, uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AyalaCacheManager,
  AyalaCacheManagerModule,
  CacheInterceptor,
} from '../../../src/cache-manager/index.js'
import { type CacheApp, startApp } from '../../helpers/cache-manager-apps.js'
import { deleteNamespaces } from '../../helpers/redis.js'

const redisUrl = serviceUrls().redis

describe('the drop-in with Redis unreachable (real Redis behind a TCP proxy)', () => {
  const namespace = uniqueName('cm-down').replace(/[^a-z0-9-]/gi, '')
  let proxy: TcpProxy
  let app: CacheApp

  beforeAll(async () => {
    proxy = await startTcpProxy({ targetPort: Number(new URL(redisUrl).port || 6379) })
    app = await startApp(
      {
        name: 'drop-in behind a proxy',
        module: (ns) =>
          AyalaCacheManagerModule.register({
            ttl: 60_000,
            namespace: ns,
            redis: `redis://127.0.0.1:${proxy.port}`,
            redisTimeout: '100ms',
            // Off so an outage leaves the L1 copies alone: the test is about the read path.
            bus: false,
          }),
        interceptor: CacheInterceptor,
        dropIn: true,
      },
      namespace,
    )
  })

  afterAll(async () => {
    await app?.app.close()
    await proxy?.close()
    await deleteNamespaces(redisUrl, [namespace])
  })

  async function get(path: string) {
    const response = await fetch(`${app.url}${path}`)
    return { status: response.status, cache: response.headers.get('x-cache') }
  }

  it.each(['blackhole', 'refuse'] as const)(
    'Redis %s: every request answered, L1 hits kept, writes tolerated and counted',
    async (mode) => {
      expect(await get(`/items?warm=${mode}`)).toEqual({ status: 200, cache: 'MISS' })
      expect(await get(`/items?warm=${mode}`)).toEqual({ status: 200, cache: 'HIT' })

      const manager = app.cache as unknown as AyalaCacheManager
      const errorsBefore = manager.cache.stats().l2Errors
      proxy.setMode(mode)
      const before = app.calls.of('items')
      const outage = await Promise.all(Array.from({ length: 10 }, (_, i) => get(`/items?down=${mode}-${i}`)))
      expect(outage.filter((r) => r.status === 200)).toHaveLength(10)
      expect(app.calls.of('items') - before).toBe(10)
      // Cached before the outage: still an L1 hit.
      expect(await get(`/items?warm=${mode}`)).toEqual({ status: 200, cache: 'HIT' })
      let calls = 0
      expect(await app.cache.wrap(`wrapped-${mode}`, () => ++calls, 60_000)).toBe(1)
      // A write Redis cannot take is tolerated, as @ayala/cache tolerates it: this instance keeps
      // the value in L1 and the failure is counted (l2Errors), never thrown at the caller.
      expect(await app.cache.set(`during-${mode}`, 'x', 60_000)).toBe('x')
      expect(await app.cache.get(`during-${mode}`)).toBe('x')
      // The outage's failed Redis calls were counted (the breaker then refuses the rest at once).
      expect(manager.cache.stats().l2Errors).toBeGreaterThan(errorsBefore)
      expect(manager.cache.stats().breaker).toBe('open')

      proxy.restore()
      // Back: once the link is up again (and the cache's recovery hold is over), entries are in Redis.
      let inRedis = false
      for (let i = 0; i < 100 && !inRedis; i++) {
        await app.cache.set(`after-${mode}`, 'y', 60_000)
        inRedis = typeof (await app.cache.ttl(`after-${mode}`)) === 'number'
        if (!inRedis) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(inRedis).toBe(true)
    },
  )
})
