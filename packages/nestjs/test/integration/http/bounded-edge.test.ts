/**
 * The HTTP edge of a Nest app with its Redis, Kafka or database hung or refused (issue 14), on the
 * real services: the app's own links go through loopback proxies the test blackholes (bytes held)
 * or cuts (refused) one at a time; the test's producer and checks talk to the services directly.
 * The app: `AyalaMetricsStreamModule` (the aggregator and the dashboard, from a `redis://` URL:
 * the module's own client), `AyalaOutboxModule` on MariaDB, `AyalaMetricsModule` with
 * `collectTimeout: '1s'`, `AyalaErrorFilter` as the global filter, and `/health`.
 *
 * Asserted (counts only): no `/dashboard` answer later than its 300 ms deadline plus a margin,
 * each one 200 marked stale (a snapshot is held) or, for a range with none, 503 with
 * `Retry-After` and a body without the error's message; no `/metrics` answer later than the
 * collect deadline plus a margin, each one naming the dead service's collector down
 * (`ayala_collector_up 0`), the others up; `/health` 503 for Redis; once the link is restored,
 * fresh figures (equal to what was produced) and every collector up again.
 */
import 'reflect-metadata'
import { connect } from 'node:net'
import { type Dashboard, defineAggregates, defineView, kafkaSource } from '@ayala/metrics-stream'
import type { DeliveryOutcome, OutboxDelivery, OutboxSink } from '@ayala/outbox'
import { serviceUrls, startTcpProxy, type TcpProxy, uniqueName } from '@ayala/testkit'
import { Controller, Get, Global, type INestApplication, Inject, Module, Sse } from '@nestjs/common'
import { APP_FILTER } from '@nestjs/core'
import { HealthCheck, HealthCheckService } from '@nestjs/terminus'
import { Test } from '@nestjs/testing'
import { Kafka, logLevel, type Producer } from 'kafkajs'
import { createPool, type Pool } from 'mariadb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaHealthModule, RedisHealthIndicator } from '../../../src/health/index.js'
import { AyalaErrorFilter } from '../../../src/index.js'
import { AyalaMetricsModule } from '../../../src/metrics/index.js'
import {
  AyalaMetricsStreamModule,
  DashboardStream,
  InjectDashboard,
} from '../../../src/metrics-stream/index.js'
import { AyalaOutboxModule } from '../../../src/outbox/index.js'
import { baseUrl, waitFor } from '../../helpers/http.js'
import { parsePrometheusText, sampleValue } from '../../helpers/prometheus-parser.js'

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

const DASHBOARD_TIMEOUT_MS = 300
const COLLECT_TIMEOUT_MS = 1_000
/** Scheduling noise on the shared 2-core machine, plus the HTTP hop. */
const MARGIN_MS = 1_000
const POOL = Symbol('pool')
const REDIS_URL = Symbol('redis-url')

class NullSink implements OutboxSink<unknown> {
  async deliver(items: readonly OutboxDelivery<unknown>[]): Promise<readonly DeliveryOutcome[]> {
    return items.map(() => ({ status: 'done' }) as const)
  }
}

@Controller()
class AppController {
  constructor(
    @InjectDashboard() private readonly dashboard: Dashboard<typeof aggregates>,
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(RedisHealthIndicator) private readonly redis: RedisHealthIndicator,
    @Inject(REDIS_URL) private readonly redisUrl: string,
    @Inject(DashboardStream) private readonly streams: DashboardStream,
  ) {}

  /** The range never read, pushed: with Redis down it has nothing to show. */
  @Sse('dashboard/today/stream')
  streamToday() {
    return this.streams.observe({ from: Date.now(), to: Date.now() })
  }

  @Get('dashboard')
  read() {
    return this.dashboard.read()
  }

  /** Another read range: no snapshot of it is ever held, so an outage answers 503. */
  @Get('dashboard/today')
  today() {
    return this.dashboard.read({ from: Date.now(), to: Date.now() })
  }

  @Get('boom')
  boom() {
    throw new Error(`not an SDK error, password=${'s3cr3t'}`)
  }

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.redis.pingCheck('redis', { url: this.redisUrl, timeout: '1s' })])
  }
}

describe('the HTTP edge with Redis, Kafka or the database hung or refused', () => {
  const services = serviceUrls()
  const namespace = uniqueName('nest-edge')
  const topic = uniqueName('nest-edge-sales')
  const table = uniqueName('edge_outbox').replace(/-/g, '_')
  const direct = new Kafka({
    clientId: 'ayala-nest-edge',
    brokers: services.kafkaBrokers,
    logLevel: logLevel.NOTHING,
  })
  const admin = direct.admin()
  let producer: Producer
  let redisProxy: TcpProxy
  let kafkaProxy: TcpProxy
  let dbProxy: TcpProxy
  let pool: Pool
  let app: INestApplication
  let url: string
  let produced = 0
  const timings: Record<string, number[]> = {}

  async function produce(count: number): Promise<void> {
    const messages = Array.from({ length: count }, () => {
      produced++
      return {
        key: `s-${produced}`,
        value: JSON.stringify({ id: `s-${produced}`, cents: 10, at: Date.now() }),
      }
    })
    await producer.send({ topic, messages })
  }

  /** GET `path` raced against `bound`: `late` when the bound passed first. */
  async function get(path: string, bound: number) {
    const started = performance.now()
    let watchdog: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<'late'>((resolve) => {
      watchdog = setTimeout(() => resolve('late'), bound)
    })
    // A request still unanswered 10 s past its bound is given up (status 0): the old code hung
    // for minutes, and the test must end on it too.
    const call = fetch(`${url}${path}`, { signal: AbortSignal.timeout(bound + 10_000) }).then(
      async (response) => ({
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        text: await response.text(),
      }),
      () => ({ status: 0, retryAfter: null, text: '{}' }),
    )
    const first = await Promise.race([call, late])
    clearTimeout(watchdog)
    const answer = first === 'late' ? { late: true, ...(await call) } : { late: false, ...first }
    const ms = performance.now() - started
    const route = path.split('/').slice(0, 3).join('/')
    timings[route] = [...(timings[route] ?? []), ms]
    return answer
  }
  const dashboard = async (path = '/dashboard') => {
    const answer = await get(path, DASHBOARD_TIMEOUT_MS + MARGIN_MS)
    return { ...answer, body: JSON.parse(answer.text) as Record<string, any> }
  }
  const metrics = async () => {
    const answer = await get('/metrics', COLLECT_TIMEOUT_MS + MARGIN_MS)
    const families = parsePrometheusText(answer.text)
    const up = (collector: string) =>
      sampleValue(families, 'ayala_collector_up', 'ayala_collector_up', { collector })
    return { ...answer, up, families }
  }

  beforeAll(async () => {
    await admin.connect()
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] })
    producer = direct.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    redisProxy = await startTcpProxy({ targetPort: Number(new URL(services.redis).port || 6379) })
    const [kafkaHost, kafkaPort] = (services.kafkaBrokers[0] as string).split(':')
    kafkaProxy = await startTcpProxy({ targetHost: kafkaHost, targetPort: Number(kafkaPort) })
    const database = new URL(services.database)
    dbProxy = await startTcpProxy({ targetPort: Number(database.port || 3306) })
    pool = createPool({
      host: '127.0.0.1',
      port: dbProxy.port,
      user: decodeURIComponent(database.username || 'root'),
      password: decodeURIComponent(database.password),
      database: database.pathname.slice(1) || 'test',
      connectionLimit: 4,
    })
    // The app's Kafka client reaches the broker through the proxy, whatever address it advertises.
    const kafka = new Kafka({
      clientId: 'ayala-nest-edge-app',
      brokers: [`127.0.0.1:${kafkaProxy.port}`],
      logLevel: logLevel.NOTHING,
      socketFactory: ({ onConnect }) => connect({ host: '127.0.0.1', port: kafkaProxy.port }, onConnect),
    })
    const redisUrl = `redis://127.0.0.1:${redisProxy.port}`

    @Global()
    @Module({
      providers: [
        { provide: POOL, useValue: pool },
        { provide: REDIS_URL, useValue: redisUrl },
      ],
      exports: [POOL, REDIS_URL],
    })
    class InfrastructureModule {}

    const moduleRef = await Test.createTestingModule({
      imports: [
        InfrastructureModule,
        AyalaHealthModule,
        AyalaMetricsStreamModule.forRoot({
          redis: redisUrl,
          namespace,
          view,
          dashboard: { timeout: DASHBOARD_TIMEOUT_MS },
          consumer: {
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
        AyalaOutboxModule.forRootAsync({
          isGlobal: true,
          useFactory: (db: Pool) => ({
            db,
            table,
            sinks: { copy: new NullSink() },
            relay: { pollInterval: 200 },
          }),
          inject: [POOL],
        }),
        AyalaMetricsModule.forRoot({ isGlobal: true, collectTimeout: COLLECT_TIMEOUT_MS }),
      ],
      controllers: [AppController],
      providers: [{ provide: APP_FILTER, useClass: AyalaErrorFilter }],
    }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    await app.listen(0, '127.0.0.1')
    url = baseUrl(app)
    await produce(50)
    await waitFor(async () => (await dashboard()).body.figures?.sales === produced, 'the first figures')
  }, 120_000)

  afterAll(async () => {
    for (const proxy of [redisProxy, kafkaProxy, dbProxy]) proxy?.restore()
    await app?.close()
    await producer?.disconnect()
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined)
    await admin.disconnect()
    await pool?.query(`DROP TABLE IF EXISTS ${table}`)
    await pool?.end()
    for (const proxy of [redisProxy, kafkaProxy, dbProxy]) await proxy?.close()
    const summary = Object.entries(timings).map(
      ([route, list]) => `${route} ${list.length} answers, slowest ${Math.max(...list).toFixed(0)} ms`,
    )
    console.log(`bounded-edge: ${summary.join('; ')}`)
  })

  it('answers every collector up and fresh figures while everything is up; a non-SDK error is a bare 500', async () => {
    const scrape = await metrics()
    expect(scrape.status).toBe(200)
    expect([scrape.up('stream_lag'), scrape.up('outbox_backlog')]).toEqual([1, 1])
    const read = await dashboard()
    expect(read.body).toMatchObject({ stale: false, ageMs: 0, status: 'live' })
    const boom = await get('/boom', 5_000)
    expect(boom.status).toBe(500)
    expect(boom.text).not.toContain('s3cr3t')
    expect(boom.text).not.toMatch(/\s+at /)
  })

  for (const fault of ['blackhole', 'cut'] as const) {
    it(`Redis ${fault}: /dashboard stale or 503 within its deadline, /metrics names stream_lag down, /health 503; restored: fresh`, async () => {
      const before = await dashboard()
      expect(before.body.stale).toBe(false)
      if (fault === 'blackhole') redisProxy.blackhole()
      else redisProxy.cut()
      await produce(20) // applied only once Redis is back
      const reads = []
      const ranges = []
      const scrapes = []
      for (let i = 0; i < 8; i++) {
        reads.push(await dashboard())
        ranges.push(await dashboard('/dashboard/today'))
        scrapes.push(await metrics())
      }
      const health = await get('/health', 5_000)
      // Its stream: one status event saying so, with a reconnection delay, then the end.
      const stream = await fetch(`${url}/dashboard/today/stream`, { signal: AbortSignal.timeout(10_000) })
      const streamed = await stream.text()
      redisProxy.restore()

      expect([...reads, ...ranges, ...scrapes].filter((a) => a.late)).toHaveLength(0)
      expect(reads.map((r) => r.status)).toEqual(Array(8).fill(200))
      // Every answer is the held snapshot (stale once noticed) or, before, the current copy: the
      // same figures, since nothing could be applied.
      expect(reads.every((r) => r.body.figures.sales === before.body.figures.sales)).toBe(true)
      expect(reads.filter((r) => r.body.stale === true).length).toBeGreaterThan(0)
      expect(reads.filter((r) => r.body.stale).every((r) => typeof r.body.ageMs === 'number')).toBe(true)
      // The range never read: 503 with Retry-After, the code, and no message of the error.
      const failed = ranges.filter((r) => r.status !== 200)
      expect(failed.length).toBeGreaterThan(0)
      for (const r of failed) {
        expect(r.status).toBe(503)
        expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1)
        expect(r.body).toMatchObject({ code: 'E_STREAM_UNAVAILABLE', retriable: true })
        expect(r.body.message).toBe('The dashboard is temporarily unavailable')
        expect(r.text).not.toContain(String(redisProxy.port))
      }
      expect(scrapes.map((s) => s.status)).toEqual(Array(8).fill(200))
      // Redis down: the lag collector (Kafka + Redis) is down in the last scrapes; the database's is up.
      expect(scrapes.slice(-3).map((s) => s.up('stream_lag'))).toEqual([0, 0, 0])
      expect(scrapes.every((s) => s.up('outbox_backlog') === 1)).toBe(true)
      expect(health.status).toBe(503)
      expect(streamed).toMatch(/retry: \d+\n/)
      const last = /event: status\n(?:[a-z]+: .*\n)*?data: (.*)\n/.exec(streamed)?.[1]
      expect(JSON.parse(last ?? '{}')).toMatchObject({
        status: 'unavailable',
        stale: true,
        code: 'E_STREAM_UNAVAILABLE',
      })

      // Restored: fresh figures with the events produced meanwhile, every collector up.
      await waitFor(async () => {
        const read = await dashboard()
        return read.status === 200 && read.body.stale === false && read.body.figures.sales === produced
      }, 'fresh figures at the truth')
      await waitFor(async () => (await metrics()).up('stream_lag') === 1, 'stream_lag up again')
      await waitFor(async () => (await get('/health', 5_000)).status === 200, 'healthy again')
    }, 120_000)
  }

  it('Kafka blackholed: /metrics names stream_lag down within its bound, /dashboard stays fresh; restored: up', async () => {
    kafkaProxy.blackhole()
    const scrapes = []
    const reads = []
    for (let i = 0; i < 5; i++) {
      scrapes.push(await metrics())
      reads.push(await dashboard())
    }
    kafkaProxy.restore()
    expect([...scrapes, ...reads].filter((a) => a.late)).toHaveLength(0)
    expect(scrapes.map((s) => s.up('stream_lag'))).toEqual([0, 0, 0, 0, 0])
    expect(scrapes.every((s) => s.up('outbox_backlog') === 1)).toBe(true)
    expect(reads.every((r) => r.status === 200 && r.body.stale === false)).toBe(true)
    await waitFor(async () => (await metrics()).up('stream_lag') === 1, 'stream_lag up again')
  }, 120_000)

  for (const fault of ['blackhole', 'cut'] as const) {
    it(`database ${fault}: /metrics names outbox_backlog down within its bound; restored: up`, async () => {
      if (fault === 'blackhole') dbProxy.blackhole()
      else dbProxy.cut()
      const scrapes = []
      for (let i = 0; i < 5; i++) scrapes.push(await metrics())
      dbProxy.restore()
      expect(scrapes.filter((a) => a.late)).toHaveLength(0)
      expect(scrapes.map((s) => s.up('outbox_backlog'))).toEqual([0, 0, 0, 0, 0])
      expect(scrapes.every((s) => s.up('stream_lag') === 1)).toBe(true)
      await waitFor(async () => (await metrics()).up('outbox_backlog') === 1, 'outbox_backlog up again')
    }, 120_000)
  }
})
