import 'reflect-metadata'
import {
  createEventProducer,
  type Dashboard,
  defineAggregates,
  defineView,
  kafkaSource,
  type MetricsConsumer,
} from '@ayala/metrics-stream'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Controller, Get, type INestApplication, Inject, Sse } from '@nestjs/common'
import { Test, type TestingModule } from '@nestjs/testing'
import { Redis } from 'ioredis'
import { Kafka, logLevel, type Producer } from 'kafkajs'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaHealthModule, KafkaHealthIndicator } from '../../../src/health/index.js'
import { AyalaMetricsModule } from '../../../src/metrics/index.js'
import {
  AYALA_METRICS_CONSUMER,
  AyalaMetricsStreamModule,
  DashboardStream,
  InjectDashboard,
} from '../../../src/metrics-stream/index.js'
import { baseUrl, waitFor } from '../../helpers/http.js'
import { parsePrometheusText, samples, sampleValue } from '../../helpers/prometheus-parser.js'

interface Sale {
  id: string
  status: 'open' | 'paid'
  cents: number
  at: number
}

const aggregates = defineAggregates<Sale>()((a) => ({
  sales: a.count(),
  byStatus: a.count({ by: { status: (r) => r.status } }),
  cents: a.sum({ value: (r) => r.cents }),
}))
const view = defineView<Sale, Sale, typeof aggregates>({ name: 'sales', eventTime: (e) => e.at, aggregates })

@Controller('dashboard')
class DashboardController {
  constructor(
    @InjectDashboard() private readonly dashboard: Dashboard<typeof aggregates>,
    @Inject(DashboardStream) private readonly streams: DashboardStream,
  ) {}

  @Get()
  read() {
    return this.dashboard.read()
  }

  @Sse('stream')
  stream() {
    return this.streams.observe()
  }
}

/** Reads Server-Sent Events from a fetch body, one parsed `data` per `figures` event. */
class EventReader {
  private buffer = ''
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>
  private readonly decoder = new TextDecoder()
  ended = false

  constructor(body: ReadableStream<Uint8Array>) {
    this.reader = body.getReader()
  }

  async next(): Promise<{ version: number; figures: { sales: number; cents: number } } | undefined> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n')
      if (end >= 0) {
        const block = this.buffer.slice(0, end)
        this.buffer = this.buffer.slice(end + 2)
        const data = block.split('\n').find((line) => line.startsWith('data: '))
        if (block.includes('event: figures') && data) return JSON.parse(data.slice(6))
        continue
      }
      const { done, value } = await this.reader.read()
      if (done) {
        this.ended = true
        return undefined
      }
      this.buffer += this.decoder.decode(value, { stream: true })
    }
  }
}

describe('AyalaMetricsStreamModule: worker + dashboard app, SSE, lag health (real Kafka + Redis)', () => {
  const services = serviceUrls()
  const namespace = uniqueName('nest')
  const topic = uniqueName('nest-sales')
  const kafka = new Kafka({
    clientId: 'ayala-nest-stream',
    brokers: services.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  })
  const admin = kafka.admin()
  let producer: Producer
  let worker: TestingModule
  let app: INestApplication
  let url: string
  let n = 0
  const registry = new Registry()

  const sale = (status: Sale['status'], cents: number): Sale => ({
    id: `s-${++n}`,
    status,
    cents,
    at: Date.now(),
  })
  const send = (sales: Sale[]) => createEventProducer<Sale>({ producer, topic, key: (e) => e.id }).send(sales)

  beforeAll(async () => {
    await admin.connect()
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 2 }, { topic: `${topic}.dlq` }, { topic: `${topic}.late` }],
    })
    producer = kafka.producer()
    await producer.connect()

    // The aggregator as its own worker: an application context with the consumer, no dashboard.
    worker = await Test.createTestingModule({
      imports: [
        AyalaHealthModule,
        AyalaMetricsModule.forRoot({ registry, path: false, globalInterceptor: false }),
        AyalaMetricsStreamModule.forRoot({
          redis: services.redis,
          namespace,
          view,
          dashboard: false,
          consumer: {
            batchSize: 50,
            source: kafkaSource({
              kafka,
              groupId: `${namespace}-g`,
              topics: [topic],
              commitInterval: 500,
              consumer: {
                sessionTimeout: 6_000,
                rebalanceTimeout: 6_000,
                heartbeatInterval: 500,
                maxWaitTimeInMs: 200,
              },
            }),
          },
        }),
      ],
    }).compile()
    await worker.init()

    // The HTTP application reads and pushes the figures.
    const moduleRef = await Test.createTestingModule({
      imports: [
        AyalaMetricsStreamModule.forRootAsync({
          useFactory: () => ({ redis: services.redis, namespace, view }),
        }),
      ],
      controllers: [DashboardController],
    }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    await app.listen(0, '127.0.0.1')
    url = baseUrl(app)
  })

  afterAll(async () => {
    await app?.close()
    await worker?.close()
    await producer?.disconnect()
    await admin.deleteTopics({ topics: [topic, `${topic}.dlq`, `${topic}.late`] })
    await admin.disconnect()
    const redis = new Redis(services.redis)
    const keys = await redis.keys(`*${namespace}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })

  it('aggregates events in the worker and serves them over HTTP and SSE; lag health is up once caught up', async () => {
    await send([sale('open', 100), sale('paid', 250), sale('paid', 50)])
    await waitFor(
      async () =>
        ((await (await fetch(`${url}/dashboard`)).json()) as { figures: { sales: number } }).figures.sales ===
        3,
      'three sales aggregated',
      45_000,
    )
    const snapshot = (await (await fetch(`${url}/dashboard`)).json()) as {
      figures: { sales: number; cents: number; byStatus: Record<string, number> }
    }
    expect(snapshot.figures.cents).toBe(400)
    expect(snapshot.figures.byStatus).toMatchObject({ open: 1, paid: 2 })

    const controller = new AbortController()
    const response = await fetch(`${url}/dashboard/stream`, { signal: controller.signal })
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const events = new EventReader(response.body as ReadableStream<Uint8Array>)
    const first = await events.next()
    expect(first?.figures.sales).toBe(3)
    await send([sale('paid', 1_000)])
    let update = await events.next()
    while (update !== undefined && update.figures.sales < 4) update = await events.next()
    expect(update?.figures).toMatchObject({ sales: 4, cents: 1_400 })
    expect(update?.version).toBeGreaterThan(first?.version ?? Number.POSITIVE_INFINITY)
    controller.abort()

    const consumer = worker.get<MetricsConsumer<Sale>>(AYALA_METRICS_CONSUMER)
    const health = worker.get(KafkaHealthIndicator)
    await waitFor(async () => (await consumer.lag()).every((p) => p.lag === 0), 'consumer caught up')
    const result = await health.lagCheck('sales-lag', { consumer, maxLag: 0 })
    expect(result['sales-lag']).toMatchObject({ status: 'up', totalLag: 0, partitions: 2 })
    expect(consumer.stats().applied).toBe(4)

    // The worker's Prometheus registry carries the consumer's figures and its lag, parsed.
    const families = parsePrometheusText(await registry.metrics())
    expect(sampleValue(families, 'ayala_stream_applied_total', 'ayala_stream_applied_total')).toBe(4)
    expect(families.get('ayala_stream_applied_total')?.type).toBe('counter')
    const lag = samples(families, 'ayala_stream_consumer_lag', 'ayala_stream_consumer_lag', { topic })
    expect(lag.map((s) => [s.labels.partition, s.value]).sort()).toEqual([
      ['0', 0],
      ['1', 0],
    ])
  })

  it('ends open SSE streams at shutdown so the application closes', async () => {
    const response = await fetch(`${url}/dashboard/stream`)
    const events = new EventReader(response.body as ReadableStream<Uint8Array>)
    expect((await events.next())?.figures.sales).toBeGreaterThanOrEqual(4)
    expect(app.get(DashboardStream).size).toBe(1)
    await app.close()
    expect(await events.next()).toBeUndefined()
    expect(events.ended).toBe(true)
  })

  it('reports the lag as down once the aggregator is stopped and events keep coming', async () => {
    const consumer = worker.get<MetricsConsumer<Sale>>(AYALA_METRICS_CONSUMER)
    const health = worker.get(KafkaHealthIndicator)
    await worker.close() // stops the consumer (its chunk in flight is applied first)
    const applied = consumer.stats().applied
    await send([sale('open', 1), sale('open', 2), sale('open', 3)])
    const result = await health.lagCheck('sales-lag', { consumer, maxLag: 0, timeout: '10s' })
    expect(result['sales-lag']?.status).toBe('down')
    expect(consumer.stats().applied).toBe(applied)
  })
})
