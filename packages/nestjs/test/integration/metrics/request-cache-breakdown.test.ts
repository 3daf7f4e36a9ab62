import 'reflect-metadata'
import type { Cache } from '@ayala/cache'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Controller, Get, type INestApplication, Param } from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AYALA_CACHE, AyalaCacheModule, InjectCache, UseCacheMode } from '../../../src/index.js'
import { AyalaMetricsModule, PerformanceEvents, type SlowRequestEvent } from '../../../src/metrics/index.js'
import { baseUrl } from '../../helpers/http.js'
import { parsePrometheusText, samples, sampleValue } from '../../helpers/prometheus-parser.js'
import { deleteNamespaces } from '../../helpers/redis.js'

@Controller('clients')
class ClientsController {
  loads = 0
  constructor(@InjectCache() private readonly cache: Cache) {}

  @Get(':id/live')
  @UseCacheMode('bypass')
  live(@Param('id') id: string) {
    return this.find(id)
  }

  @Get(':id')
  async find(@Param('id') id: string) {
    const load = () => {
      this.loads++
      return { id }
    }
    // Three lookups per request: two of one key (the second an L1 hit), one of a second key.
    const first = await this.cache.getOrSet(`client:${id}`, load)
    await this.cache.getOrSet(`client:${id}`, load)
    await this.cache.getOrSet(`client:${id}:summary`, load)
    return first
  }
}

describe('per-route cache hit/miss breakdown (cache module + metrics module, real Redis)', () => {
  const redis = serviceUrls().redis
  const namespace = uniqueName('nest')
  const registry = new Registry()
  const slow: SlowRequestEvent[] = []
  let app: INestApplication
  let url: string

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        AyalaCacheModule.forRoot({ redis, namespace, redisTimeout: '5s', isGlobal: true }),
        // Every request is "slow" at a 0 ms threshold, so each one yields an event with its breakdown.
        AyalaMetricsModule.forRoot({ registry, slowThreshold: 0, logSlowRequests: false }),
      ],
      controllers: [ClientsController],
    }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    app.get(PerformanceEvents).on('slow-request', (event) => slow.push(event))
    await app.listen(0, '127.0.0.1')
    url = baseUrl(app)
  })

  afterAll(async () => {
    await app?.close()
    await deleteNamespaces(redis, [namespace])
  })

  it('counts the cache events each request caused, per route and result', async () => {
    for (let i = 0; i < 3; i++) expect((await fetch(`${url}/clients/1`)).status).toBe(200)
    expect((await fetch(`${url}/clients/2`, { headers: { 'cache-control': 'no-store' } })).status).toBe(200)
    expect((await fetch(`${url}/clients/3/live`)).status).toBe(200)
    expect(slow.map((e) => e.route)).toEqual([
      '/clients/:id',
      '/clients/:id',
      '/clients/:id',
      '/clients/:id',
      '/clients/:id/live',
    ])
    const none = { l1Hits: 0, l2Hits: 0, misses: 0, stale: 0, coalesced: 0, bypassed: 0 }
    // Every L1 hit is published by the cache, on its fast and checked paths alike, so each
    // request's breakdown is exact: a miss, an L1 hit of the value just loaded, a miss.
    expect(slow.map((e) => e.cache)).toEqual([
      { ...none, l1Hits: 1, misses: 2 },
      // Everything is in L1 from the second request on.
      { ...none, l1Hits: 3 },
      { ...none, l1Hits: 3 },
      // honorCacheControl is off: the header changes nothing.
      { ...none, l1Hits: 1, misses: 2 },
      { ...none, bypassed: 3 },
    ])

    // The Prometheus counters add up the same per-request figures.
    const families = parsePrometheusText(await registry.metrics())
    const name = 'ayala_http_request_cache_events_total'
    const value = (route: string, result: string) =>
      sampleValue(families, name, name, { route, method: 'GET', result })
    expect(value('/clients/:id', 'miss')).toBe(4)
    expect(value('/clients/:id', 'l1_hit')).toBe(8)
    expect(value('/clients/:id/live', 'bypass')).toBe(3)
    expect(samples(families, name, name, { result: 'l2_hit' })).toEqual([])
  })

  it("exports each module cache's stats as Prometheus counters and gauges", async () => {
    await fetch(`${url}/clients/9`)
    const stats = app.get<Cache>(AYALA_CACHE).stats()
    const families = parsePrometheusText(await (await fetch(`${url}/metrics`)).text())
    const labels = { cache: 'default', namespace }
    expect(families.get('ayala_cache_hits_total')?.type).toBe('counter')
    expect(
      sampleValue(families, 'ayala_cache_hits_total', 'ayala_cache_hits_total', { ...labels, tier: 'l1' }),
    ).toBe(stats.l1Hits)
    expect(sampleValue(families, 'ayala_cache_misses_total', 'ayala_cache_misses_total', labels)).toBe(
      stats.misses,
    )
    expect(stats.misses).toBeGreaterThanOrEqual(6)
    expect(
      sampleValue(families, 'ayala_cache_loader_calls_total', 'ayala_cache_loader_calls_total', labels),
    ).toBe(stats.loaderCalls)
    expect(sampleValue(families, 'ayala_cache_l1_entries', 'ayala_cache_l1_entries', labels)).toBe(
      stats.l1Entries,
    )
    expect(sampleValue(families, 'ayala_cache_bus_connected', 'ayala_cache_bus_connected', labels)).toBe(1)
    const breaker = samples(families, 'ayala_cache_breaker_state', 'ayala_cache_breaker_state', labels)
    expect(breaker.filter((s) => s.value === 1).map((s) => s.labels.state)).toEqual(['closed'])
  })
})
