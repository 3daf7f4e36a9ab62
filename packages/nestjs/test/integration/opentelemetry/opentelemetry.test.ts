import 'reflect-metadata'
import type { Cache } from '@ayala/cache'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Controller, Get, type INestApplication, type MessageEvent, Param, Sse } from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { DataPointType, MeterProvider, type MetricData, MetricReader } from '@opentelemetry/sdk-metrics'
import { interval, type Observable } from 'rxjs'
import { map } from 'rxjs/operators'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AYALA_CACHE, AyalaCacheModule, InjectCache } from '../../../src/index.js'
import { AyalaOpenTelemetryModule } from '../../../src/opentelemetry/index.js'
import { baseUrl, waitFor } from '../../helpers/http.js'
import { deleteNamespaces } from '../../helpers/redis.js'

/** A pull reader: `collect()` on demand, as a Prometheus-style exporter does. */
class PullReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    // Nothing buffered: every collect() reads the instruments directly.
    return Promise.resolve()
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
}

@Controller('products')
class ProductsController {
  constructor(@InjectCache() private readonly cache: Cache) {}

  @Get(':id')
  find(@Param('id') id: string) {
    return this.cache.getOrSet(`product:${id}`, () => ({ id }))
  }
}

@Controller('feed')
class FeedController {
  @Sse('events')
  events(): Observable<MessageEvent> {
    return interval(50).pipe(map((i) => ({ data: { i } })))
  }
}

describe('AyalaOpenTelemetryModule (OpenTelemetry SDK meter, real Redis)', () => {
  const redis = serviceUrls().redis
  const namespace = uniqueName('nest')
  const reader = new PullReader()
  const provider = new MeterProvider({ readers: [reader] })
  let app: INestApplication

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        AyalaCacheModule.forRoot({ redis, namespace, redisTimeout: '5s', isGlobal: true }),
        AyalaOpenTelemetryModule.forRoot({ meter: provider.getMeter('test') }),
      ],
      controllers: [ProductsController, FeedController],
    }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    await app.listen(0, '127.0.0.1')
  })

  afterAll(async () => {
    await app?.close()
    await provider.shutdown()
    await deleteNamespaces(redis, [namespace])
  })

  async function collect(): Promise<Map<string, MetricData>> {
    const { resourceMetrics, errors } = await reader.collect()
    expect(errors).toEqual([])
    return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]))
  }

  it('records the request histogram, the cache breakdown per route and the cache stats', async () => {
    const url = baseUrl(app)
    for (let i = 0; i < 3; i++) expect((await fetch(`${url}/products/1`)).status).toBe(200)

    const metrics = await collect()
    const duration = metrics.get('http.server.request.duration')
    expect(duration?.dataPointType).toBe(DataPointType.HISTOGRAM)
    const point = duration?.dataPoints.find((p) => p.attributes['http.route'] === '/products/:id')
    expect(point?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.response.status_code': 200,
    })
    expect((point?.value as { count: number } | undefined)?.count).toBe(3)

    const events = metrics.get('ayala.http.request.cache_events')
    const byResult = Object.fromEntries(
      (events?.dataPoints ?? []).map((p) => [String(p.attributes['ayala.cache.result']), p.value]),
    )
    expect(byResult.miss).toBe(1)

    const stats = app.get<Cache>(AYALA_CACHE).stats()
    const misses = metrics.get('ayala.cache.misses')
    expect(misses?.dataPoints.map((p) => [p.attributes['ayala.cache.namespace'], p.value])).toEqual([
      [namespace, stats.misses],
    ])
    const hits = metrics.get('ayala.cache.hits')
    const l1 = hits?.dataPoints.find((p) => p.attributes['ayala.cache.tier'] === 'l1')
    expect(l1?.value).toBe(stats.l1Hits)
    expect(byResult.l1_hit ?? 0).toBeLessThanOrEqual(stats.l1Hits)
  })
  it('counts an SSE stream that ended in ayala.http.streams, not in the request duration', async () => {
    const controller = new AbortController()
    const response = await fetch(`${baseUrl(app)}/feed/events`, { signal: controller.signal })
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    while (!text.includes('"i":3')) {
      const { value, done } = await reader.read()
      if (done) throw new Error('the stream ended early')
      text += new TextDecoder().decode(value)
    }
    controller.abort()
    const streamed = async () =>
      (await collect())
        .get('ayala.http.streams')
        ?.dataPoints.find((p) => p.attributes['http.route'] === '/feed/events')?.value
    await waitFor(async () => (await streamed()) === 1, 'the SSE stream counted once it ended')
    const duration = (await collect()).get('http.server.request.duration')
    expect(duration?.dataPoints.filter((p) => p.attributes['http.route'] === '/feed/events')).toEqual([])
  })
})
