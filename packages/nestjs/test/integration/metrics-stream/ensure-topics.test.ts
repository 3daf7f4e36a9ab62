/**
 * `AyalaMetricsStreamModule`'s `ensureTopics` on the harness's Kafka and Redis: the bootstrap
 * creates the view's topics (read back with the admin API) and then starts the consumer, which
 * aggregates an event; Kafka refusing connections at bootstrap (a TCP proxy of testkit in
 * `refuse` mode) lets the application start and the topics are created in the background once
 * the link is restored, the consumer starting after them; an existing topic with fewer partitions
 * than asked fails the bootstrap even with `onStartFailure: 'retry'` (no retry fixes it).
 */
import 'reflect-metadata'
import {
  createEventProducer,
  type Dashboard,
  defineAggregates,
  defineView,
  kafkaSource,
  type MetricsConsumer,
} from '@ayala/metrics-stream'
import { serviceUrls, startTcpProxy, uniqueName } from '@ayala/testkit'
import { Test, type TestingModule } from '@nestjs/testing'
import { Redis } from 'ioredis'
import { type Admin, Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AYALA_DASHBOARD,
  AYALA_METRICS_CONSUMER,
  AyalaMetricsStreamModule,
} from '../../../src/metrics-stream/index.js'
import { waitFor } from '../../helpers/http.js'

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

const services = serviceUrls()
const FAST = { sessionTimeout: 6_000, rebalanceTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 }
const kafka = new Kafka({ brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING })
let admin: Admin
const topics: string[] = []
const namespaces: string[] = []
const modules: TestingModule[] = []

function world() {
  const topic = uniqueName('nest-topics')
  const namespace = uniqueName('nest-topics')
  topics.push(topic, `${topic}.dlq`, `${topic}.late`)
  namespaces.push(namespace)
  return { topic, namespace }
}

async function partitions(topic: string): Promise<number> {
  const { topics: found } = await admin.fetchTopicMetadata({ topics: [topic] })
  return found[0]?.partitions.length ?? 0
}

async function present(prefix: string): Promise<string[]> {
  return (await admin.listTopics()).filter((t) => t.startsWith(prefix)).sort()
}

async function boot(config: Parameters<typeof AyalaMetricsStreamModule.forRoot>[0]): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [AyalaMetricsStreamModule.forRoot(config)],
  }).compile()
  moduleRef.useLogger(false)
  modules.push(moduleRef)
  await moduleRef.init()
  return moduleRef
}

beforeAll(async () => {
  admin = kafka.admin()
  await admin.connect()
})

afterAll(async () => {
  await Promise.allSettled(modules.map((m) => m.close()))
  const existing = new Set(await admin.listTopics())
  const mine = topics.filter((t) => existing.has(t))
  if (mine.length > 0) await admin.deleteTopics({ topics: mine })
  await admin.disconnect()
  const redis = new Redis(services.redis)
  for (const namespace of namespaces) {
    const keys = await redis.keys(`*${namespace}*`)
    if (keys.length > 0) await redis.del(...keys)
  }
  redis.disconnect()
})

describe('AyalaMetricsStreamModule ensureTopics (real Kafka + Redis)', () => {
  it('creates the view topics at bootstrap, then the consumer starts and aggregates', async () => {
    const { topic, namespace } = world()
    expect(await present(topic)).toEqual([])
    const moduleRef = await boot({
      redis: services.redis,
      namespace,
      view,
      ensureTopics: { kafka, topic, partitions: 2, retention: '1d' },
      consumer: {
        source: kafkaSource({ kafka, groupId: `${namespace}-g`, topics: [topic], consumer: FAST }),
      },
    })
    expect(await present(topic)).toEqual([topic, `${topic}.dlq`, `${topic}.late`])
    expect(await partitions(topic)).toBe(2)
    const producer = kafka.producer()
    await producer.connect()
    await createEventProducer<Sale>({ producer, topic, key: (e) => e.id }).send([
      { id: 'a', cents: 5, at: Date.now() },
      { id: 'b', cents: 7, at: Date.now() },
    ])
    await producer.disconnect()
    const dashboard = moduleRef.get<Dashboard<typeof aggregates>>(AYALA_DASHBOARD)
    await waitFor(async () => (await dashboard.read()).figures.sales === 2, 'two sales aggregated', 45_000)
    expect((await dashboard.read()).figures.cents).toBe(12)
  })

  it('Kafka refusing at bootstrap: the application starts, the topics and then the consumer follow once Kafka is back', async () => {
    const { topic, namespace } = world()
    const [host, port] = (services.kafkaBrokers[0] ?? '127.0.0.1:9092').split(':')
    const proxy = await startTcpProxy({ targetHost: host, targetPort: Number(port) })
    try {
      proxy.cut()
      const through = new Kafka({
        brokers: [`127.0.0.1:${proxy.port}`],
        logLevel: logLevel.NOTHING,
        connectionTimeout: 500,
        retry: { retries: 0 },
      })
      const moduleRef = await boot({
        redis: services.redis,
        namespace,
        view,
        dashboard: false,
        ensureTopics: { kafka: through, topic },
        consumer: {
          source: kafkaSource({ kafka, groupId: `${namespace}-g`, topics: [topic], consumer: FAST }),
        },
      })
      // Started, but neither the topics nor the consumer yet.
      expect(await present(topic)).toEqual([])
      const consumer = moduleRef.get<MetricsConsumer<Sale>>(AYALA_METRICS_CONSUMER)
      expect((await consumer.health()).state).toBe('down')
      proxy.restore()
      await waitFor(
        async () => (await present(topic)).length === 3,
        'the topics created in the background',
        30_000,
      )
      await waitFor(
        async () => (await consumer.health()).state === 'up',
        'the consumer started after them',
        45_000,
      )
    } finally {
      await proxy.close()
    }
  })

  it('an existing topic with fewer partitions than asked fails the bootstrap, even with onStartFailure retry', async () => {
    const { topic, namespace } = world()
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] })
    const failure = await boot({
      redis: services.redis,
      namespace,
      view,
      dashboard: false,
      onStartFailure: 'retry',
      ensureTopics: { kafka, topic, partitions: 3 },
      consumer: {
        source: kafkaSource({ kafka, groupId: `${namespace}-g`, topics: [topic], consumer: FAST }),
      },
    }).catch((e: unknown) => e)
    expect((failure as { code?: string }).code).toBe('E_STREAM_TOPIC_MISMATCH')
    expect((failure as Error).message).toContain(`${topic} has 1 partitions, at least 3 asked`)
    expect(await present(topic)).toEqual([topic])
    expect(await partitions(topic)).toBe(1)
  })
})
