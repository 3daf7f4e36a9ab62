import 'reflect-metadata'
import { type Cache, createCache } from '@ayala/cache'
import {
  type PrivateRedis,
  startPrivateRedis,
  startTcpProxy,
  type TcpProxy,
  uniqueName,
} from '@ayala/testkit'
import { Controller, Get, type INestApplication, Inject } from '@nestjs/common'
import { HealthCheck, HealthCheckService } from '@nestjs/terminus'
import { Test } from '@nestjs/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaHealthModule, CacheHealthIndicator } from '../../../src/health/index.js'
import { baseUrl, waitFor } from '../../helpers/http.js'

interface HealthBody {
  status: string
  details: Record<string, { status: string; state?: string; pendingInvalidations?: number; message?: string }>
}

describe('CacheHealthIndicator: the cache auto-recovery state (real Redis behind a cut link)', () => {
  let redis: PrivateRedis
  let proxy: TcpProxy
  let cache: Cache
  let app: INestApplication
  let url: string

  beforeAll(async () => {
    redis = await startPrivateRedis()
    proxy = await startTcpProxy({ targetPort: redis.port })
    cache = createCache({
      redis: `redis://127.0.0.1:${proxy.port}`,
      namespace: uniqueName('cache'),
      redisTimeout: '200ms',
    })
    const theCache = cache

    @Controller('health')
    class HealthController {
      constructor(
        @Inject(HealthCheckService) private readonly health: HealthCheckService,
        @Inject(CacheHealthIndicator) private readonly cacheHealth: CacheHealthIndicator,
      ) {}

      @Get()
      @HealthCheck()
      check() {
        return this.health.check([() => this.cacheHealth.check('cache', { cache: theCache })])
      }

      @Get('strict')
      @HealthCheck()
      strict() {
        return this.health.check([
          () => this.cacheHealth.check('cache', { cache: theCache, failOn: 'degraded' }),
        ])
      }

      @Get('impatient')
      @HealthCheck()
      impatient() {
        return this.health.check([() => this.cacheHealth.check('cache', { cache: theCache, downAfter: 1 })])
      }
    }

    const moduleRef = await Test.createTestingModule({
      imports: [AyalaHealthModule],
      controllers: [HealthController],
    }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    await app.listen(0, '127.0.0.1')
    url = baseUrl(app)
  })

  afterAll(async () => {
    await app?.close()
    await cache?.close()
    await proxy?.close()
    await redis?.dispose()
  })

  async function get(path: string): Promise<{ code: number; body: HealthBody }> {
    const response = await fetch(`${url}${path}`)
    return { code: response.status, body: (await response.json()) as HealthBody }
  }

  it('up, then degraded (up by default, down with failOn or past downAfter) while an invalidation waits, then up after the replay', async () => {
    await waitFor(() => cache.busConnected, 'the cache bus connects')
    await cache.set('invoice:1', { v: 1 }, { tags: ['invoice:1'] })
    expect(await get('/health')).toMatchObject({ code: 200, body: { details: { cache: { state: 'up' } } } })

    proxy.cut()
    await waitFor(() => !cache.busConnected, 'the cache notices the cut')
    await cache.invalidateTags(['invoice:1'])
    await new Promise((resolve) => setTimeout(resolve, 20))
    const degraded = await get('/health')
    expect(degraded).toMatchObject({
      code: 200,
      body: {
        status: 'ok',
        details: { cache: { status: 'up', state: 'degraded', pendingInvalidations: 1 } },
      },
    })
    const strict = await get('/health/strict')
    expect(strict.code).toBe(503)
    expect(strict.body.details.cache?.message).toContain('1 invalidation(s) wait for Redis')
    expect((await get('/health/impatient')).code).toBe(503)

    proxy.restore()
    await waitFor(async () => (await get('/health/strict')).code === 200, 'the replay and the hold end')
    expect(await get('/health')).toMatchObject({
      code: 200,
      body: { details: { cache: { state: 'up', pendingInvalidations: 0 } } },
    })
    expect(cache.stats().invalidationReplays).toBe(1)
  })
})
