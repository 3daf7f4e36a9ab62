import 'reflect-metadata'
import {
  createEventProducer,
  type Dashboard,
  defineAggregates,
  defineView,
  kafkaSource,
  type MetricsConsumer,
} from '@ayala/metrics-stream'
import { type PrivateRedis, serviceUrls, startPrivateRedis, uniqueName } from '@ayala/testkit'
import { Controller, Get, type INestApplication, Inject, Sse } from '@nestjs/common'
import { HealthCheck, HealthCheckService } from '@nestjs/terminus'
import { Test } from '@nestjs/testing'
import { Kafka, logLevel, type Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaHealthModule, MetricsStreamHealthIndicator } from '../../../src/health/index.js'
import {
  AyalaMetricsStreamModule,
  DashboardStream,
  InjectDashboard,
  InjectMetricsConsumer,
} from '../../../src/metrics-stream/index.js'
import { baseUrl, waitFor } from '../../helpers/http.js'

interface Sale {
  id: string
  cents: number
  at: number
}
const aggregates = defineAggregates<Sale>()((a) => ({
  sales: a.count(),
  cents: a.sum({ value: (r) => r.cents }),
}))
const view = defineView<Sale, Sale, typeof aggregates>({ name: 'sales', eventTime: (e) => e.at, aggregates })

@Controller()
class AppController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(MetricsStreamHealthIndicator) private readonly metricsStream: MetricsStreamHealthIndicator,
    @InjectMetricsConsumer() private readonly consumer: MetricsConsumer<Sale>,
    @InjectDashboard() private readonly dashboard: Dashboard<typeof aggregates>,
    @Inject(DashboardStream) private readonly streams: DashboardStream,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.metricsStream.check('aggregator', { source: this.consumer }),
      () => this.metricsStream.check('dashboard', { source: this.dashboard }),
    ])
  }

  @Sse('stream')
  stream() {
    return this.streams.observe()
  }
}

/** Every SSE event of a fetch body (`event` and parsed `data`). */
function collect(body: ReadableStream<Uint8Array>): Array<{ event: string; data: any }> {
  const events: Array<{ event: string; data: any }> = []
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }))
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      const blocks = buffer.split('\n\n')
      buffer = blocks.pop() ?? ''
      for (const block of blocks) {
        const event = /^event: (.*)$/m.exec(block)?.[1]
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (event && data) events.push({ event, data: JSON.parse(data) })
      }
    }
  })()
  return events
}

describe('MetricsStreamHealthIndicator and SSE status events: Redis restarted empty under a Nest app', () => {
  const services = serviceUrls()
  const namespace = uniqueName('nest-ms')
  const topic = uniqueName('nest-ms-sales')
  const kafka = new Kafka({
    clientId: 'ayala-nest-ms-health',
    brokers: services.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  })
  const admin = kafka.admin()
  let redis: PrivateRedis
  let producer: Producer
  let app: INestApplication
  let url: string
  let n = 0
  const sales = (count: number): Sale[] =>
    Array.from({ length: count }, () => ({ id: `s-${++n}`, cents: 10, at: Date.now() }))

  beforeAll(async () => {
    redis = await startPrivateRedis()
    await admin.connect()
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] })
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const moduleRef = await Test.createTestingModule({
      imports: [
        AyalaHealthModule,
        AyalaMetricsStreamModule.forRoot({
          redis: redis.url,
          namespace,
          view,
          consumer: {
            stateCheckInterval: '200ms',
            source: kafkaSource({
              kafka,
              groupId: `${namespace}-g`,
              topics: [topic],
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
      controllers: [AppController],
    }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    await app.listen(0, '127.0.0.1')
    url = baseUrl(app)
  })

  afterAll(async () => {
    await app?.close()
    await producer?.disconnect()
    await admin.deleteTopics({ topics: [topic] })
    await admin.disconnect()
    await redis?.dispose()
  })

  it('health: up, then degraded or down while the view is missing and rebuilt, up again at the truth; SSE: status events and a resync', async () => {
    await createEventProducer<Sale>({ producer, topic, key: (e) => e.id }).send(sales(300))
    await waitFor(async () => (await fetch(`${url}/health`)).status === 200, 'health up once caught up')
    const body = (await (await fetch(`${url}/health`)).json()) as any
    expect(body.details.aggregator).toMatchObject({ status: 'up', state: 'up', viewStatus: 'live' })
    expect(body.details.dashboard).toMatchObject({ status: 'up', state: 'up', viewStatus: 'live' })

    const controller = new AbortController()
    const response = await fetch(`${url}/stream`, { signal: controller.signal })
    const events = collect(response.body as ReadableStream<Uint8Array>)
    await waitFor(
      () => events.some((e) => e.event === 'figures' && e.data.figures.sales === 300),
      'first snapshot',
    )

    // Health polled all along: every answer is kept.
    const answers: Array<{ code: number; aggregator: any; dashboard: any }> = []
    let polling = true
    const poller = (async () => {
      while (polling) {
        const r = await fetch(`${url}/health`).catch(() => undefined)
        if (r) {
          const json = (await r.json()) as any
          const details = json.details ?? json.info ?? {}
          answers.push({ code: r.status, aggregator: details.aggregator, dashboard: details.dashboard })
        }
        await new Promise((done) => setTimeout(done, 30))
      }
    })()
    await redis.stop()
    await redis.start()
    await createEventProducer<Sale>({ producer, topic, key: (e) => e.id }).send(sales(30))
    await waitFor(
      () =>
        events.some(
          (e) =>
            e.event === 'figures' &&
            e.data.status === 'live' &&
            e.data.resync &&
            e.data.figures.sales === 330,
        ),
      'the SSE resync at the truth',
      60_000,
    )
    await waitFor(async () => (await fetch(`${url}/health`)).status === 200, 'health up again', 30_000)
    polling = false
    await poller
    controller.abort()

    // While the state was missing or rebuilding, health said so (503 for missing, degraded or
    // down for the rebuild); never up with partial figures.
    const notUp = answers.filter((a) => a.code !== 200 || a.aggregator?.state === 'degraded')
    expect(notUp.length).toBeGreaterThan(0)
    const messages = answers.flatMap((a) => [a.aggregator?.message, a.dashboard?.message]).filter(Boolean)
    expect(
      messages.some((m: string) => /E_STREAM_(STATE_MISSING|REBUILDING)/.test(m)) ||
        answers.some((a) => a.aggregator?.state === 'degraded'),
    ).toBe(true)
    const statuses = events.filter((e) => e.event === 'status').map((e) => e.data.status)
    // The stream's subscriber loses Redis with everyone else: when it is back only after the
    // rebuild completed (it took under a second here), it never sees the missing/rebuilding
    // phase and rightly pushes none, only the resync above. Whatever it saw ends live.
    expect(statuses.every((status) => ['live', 'missing', 'rebuilding'].includes(status))).toBe(true)
    expect(statuses.at(-1)).toBe('live')
    // Figures pushed with status live never showed fewer sales than before the loss.
    expect(
      events.filter((e) => e.event === 'figures' && e.data.status === 'live' && e.data.figures.sales < 300),
    ).toHaveLength(0)
    const final = (await (await fetch(`${url}/health`)).json()) as any
    expect(final.details.aggregator.state).toBe('up')
  })
})
