/**
 * The Kafka sink on a real broker, with the client's link going through a loopback proxy that the
 * test cuts: records written while Kafka is unreachable are retried (no dead letter) and all land
 * once it is back; a record the broker refuses for good is a visible dead letter and does not hold
 * the others back.
 */
import { connect } from 'node:net'
import {
  createDashboard,
  createMetricsConsumer,
  defineAggregates,
  defineView,
  kafkaSource,
} from '@ayala/metrics-stream'
import { serviceUrls, startTcpProxy, type TcpProxy, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { type Admin, type Consumer, Kafka, logLevel, type Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createOutbox,
  kafkaEffect,
  kafkaSink,
  type Outbox,
  type OutboxRelay,
  type OutboxSink,
} from '../../../src/index.ts'
import { type DriverUnderTest, mariadbDriver } from '../../helpers/databases.ts'
import { waitFor } from '../../helpers/recording-sink.ts'

const [broker = '127.0.0.1:9092'] = serviceUrls().kafkaBrokers

/** An invoice version as the outbox relays it. */
interface InvoiceVersion {
  id: string
  version: number
  at: number
  invoice: { amountCents: number }
}
const aggregates = defineAggregates<{ amountCents: number }>()((a) => ({
  invoices: a.count(),
  amountCents: a.sum({ value: (r) => r.amountCents }),
}))
const entityView = defineView<InvoiceVersion, { amountCents: number }, typeof aggregates>({
  name: 'outbox-e2e',
  eventTime: (e) => e.at,
  entity: (e) => ({ key: e.id, version: e.version, row: e.invoice }),
  aggregates,
})

describe('kafkaSink on a real broker', () => {
  let db: DriverUnderTest
  let outbox: Outbox
  let proxy: TcpProxy
  let admin: Admin
  let producer: Producer
  let consumer: Consumer
  let relay: OutboxRelay
  const topic = uniqueName('outbox-events')
  const small = uniqueName('outbox-small')
  const seen = new Map<string, { key: string | null; value: string; seq: string }>()

  beforeAll(async () => {
    db = mariadbDriver()
    outbox = createOutbox({ table: uniqueName('outbox').replace(/-/g, '_') })
    await outbox.ensureTable(db.pool)
    const [host = '127.0.0.1', port = '9092'] = broker.split(':')
    proxy = await startTcpProxy({ targetHost: host, targetPort: Number(port) })
    const direct = new Kafka({ clientId: 'outbox-test', brokers: [broker], logLevel: logLevel.NOTHING })
    admin = direct.admin()
    await admin.connect()
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic, numPartitions: 3 },
        { topic: small, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '2000' }] },
      ],
    })
    // The producer reaches every broker through the proxy, whatever address the broker advertises.
    const viaProxy = new Kafka({
      clientId: 'outbox-relay',
      brokers: [`127.0.0.1:${proxy.port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
      socketFactory: ({ onConnect }) => connect({ host: '127.0.0.1', port: proxy.port }, onConnect),
    })
    producer = viaProxy.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    consumer = direct.consumer({ groupId: uniqueName('outbox-check'), maxWaitTimeInMs: 100 })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic, small], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        const seq = message.headers?.['x-outbox-seq']?.toString() ?? ''
        seen.set(seq, { key: message.key?.toString() ?? null, value: message.value?.toString() ?? '', seq })
      },
    })
    relay = outbox.relay({
      db: db.pool,
      sinks: { kafka: kafkaSink({ producer, timeout: 2_000 }) },
      pollInterval: 50,
      retryDelay: 100,
      maxRetryDelay: 500,
      deliveryTimeout: '3s',
      claimTimeout: '10s',
      degradedAfter: '1h',
    })
  })

  afterAll(async () => {
    await relay?.stop()
    await consumer?.disconnect()
    await producer?.disconnect().catch(() => undefined)
    await admin?.deleteTopics({ topics: [topic, small] }).catch(() => undefined)
    await admin?.disconnect()
    await proxy?.close()
    await db.exec(`DROP TABLE IF EXISTS ${outbox.tableName}`)
    await db.close()
  })

  const record = (n: number) =>
    kafkaEffect({ topic, key: `invoice-${n % 7}`, value: { invoiceId: `invoice-${n % 7}`, n } })

  async function writeAll(from: number, to: number): Promise<void> {
    for (let n = from; n <= to; n++) await db.transaction((tx) => outbox.enqueue(tx, record(n)))
  }

  it('delivers every committed record, through a Kafka outage, with its identity header', async () => {
    relay.start()
    await writeAll(1, 30)
    await waitFor(() => seen.size >= 30, 30_000, '30 records consumed')

    proxy.cut()
    await writeAll(31, 60)
    await waitFor(() => (relay.stats().kafka?.consecutiveFailures ?? 0) >= 2, 30_000, 'failing deliveries')
    const during = await relay.health()
    expect(during.status).toBe('degraded')
    expect(during.sinks.kafka?.pending).toBeGreaterThan(0)
    expect((await outbox.deadLetters(db.pool)).length).toBe(0)

    proxy.restore()
    await waitFor(async () => (await outbox.lag(db.pool)).kafka === undefined, 60_000, 'outbox drained')
    await waitFor(() => seen.size >= 60, 30_000, '60 records consumed')
    const values = [...seen.values()]
      .map((r) => (JSON.parse(r.value) as { n: number }).n)
      .sort((a, b) => a - b)
    // Every committed record arrived (a redelivered one would carry the same seq: counted once here).
    expect(values).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
    expect((await outbox.deadLetters(db.pool)).length).toBe(0)
    expect(relay.stats().kafka?.retried).toBeGreaterThan(0)
  })

  it('a relay that dies after the broker acknowledged delivers again: an entity view applies each version once', async () => {
    // The shared relay of the other tests delivers "kafka" too: stopped, so that the crashing
    // relay below is the only delivery path.
    await relay.stop()
    try {
      await crashAfterAck()
    } finally {
      relay.start()
    }
  })

  async function crashAfterAck(): Promise<void> {
    const events = uniqueName('outbox-e2e')
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: events, numPartitions: 2 }] })
    // Every second batch: produced, acknowledged, then the relay "dies" before deleting its rows
    // (the sink throws after the broker said yes): the batch is delivered again, at new offsets.
    const inner = kafkaSink({ producer })
    let calls = 0
    let crashes = 0
    const crashing: OutboxSink<never> = {
      async deliver(items, context) {
        const outcomes = await inner.deliver(items as never, context)
        if (++calls % 2 === 0) {
          crashes++
          throw new Error('relay killed after the broker acknowledged')
        }
        return outcomes
      },
    }
    const e2e = outbox.relay({
      db: db.pool,
      sinks: { kafka: crashing },
      batchSize: 5,
      retryDelay: 10,
      maxRetryDelay: 20,
    })
    const truth = new Map<string, { version: number; amountCents: number }>()
    for (let n = 0; n < 60; n++) {
      const id = `invoice-${n % 12}`
      const version = (truth.get(id)?.version ?? 0) + 1
      const amountCents = 100 * (1 + ((n * 37) % 50))
      truth.set(id, { version, amountCents })
      const value: InvoiceVersion = { id, version, at: Date.now(), invoice: { amountCents } }
      await db.transaction((tx) => outbox.enqueue(tx, kafkaEffect({ topic: events, key: id, value })))
    }
    for (let pass = 0; pass < 200 && (await outbox.lag(db.pool)).kafka?.pending; pass++) {
      await e2e.drainOnce().catch(() => undefined)
    }
    expect((await outbox.lag(db.pool)).kafka?.pending ?? 0).toBe(0)
    expect(crashes).toBeGreaterThan(3)
    const offsets = await admin.fetchTopicOffsets(events)
    const records = offsets.reduce((sum, p) => sum + Number(p.high), 0)
    expect(records).toBeGreaterThan(60) // the redeliveries are really in the topic

    const redis = new Redis(serviceUrls().redis)
    const namespace = uniqueName('outbox-e2e')
    const kafka = new Kafka({ clientId: 'outbox-e2e', brokers: [broker], logLevel: logLevel.NOTHING })
    const consumer = createMetricsConsumer({
      redis,
      namespace,
      view: entityView,
      source: kafkaSource({ kafka, groupId: namespace, topics: [events] }),
    })
    const dashboard = createDashboard({ redis, namespace, view: entityView, cache: false })
    try {
      await consumer.start()
      await waitFor(
        async () => (await consumer.lag()).every((p) => p.lag === 0),
        60_000,
        'consumer caught up',
      )
      const { figures } = await dashboard.read()
      const expected = [...truth.values()].reduce((sum, row) => sum + row.amountCents, 0)
      console.log(
        `[outbox e2e] 60 effects, ${crashes} relay crashes after the ack, ${records} records in the topic; dashboard ${figures.invoices} invoices / ${figures.amountCents} cents (truth 12 / ${expected})`,
      )
      expect(figures).toEqual({ invoices: 12, amountCents: expected })
      // Every redelivered record was recognised by its entity version, none applied twice.
      const stats = consumer.stats()
      expect(stats.versionDuplicates + stats.staleVersions).toBe(records - 60)
    } finally {
      await consumer.stop()
      await dashboard.close()
      await redis.quit()
    }
  }

  it('dead-letters a record the broker refuses for good and delivers the rest', async () => {
    const before = seen.size
    await db.transaction((tx) =>
      outbox.enqueue(tx, [
        kafkaEffect({ topic: small, key: 'a', value: 'small one' }),
        kafkaEffect({ topic: small, key: 'b', value: 'x'.repeat(10_000) }),
        kafkaEffect({ topic: small, key: 'c', value: 'small two' }),
      ]),
    )
    await waitFor(async () => (await outbox.lag(db.pool)).kafka?.pending === 0, 30_000, 'settled')
    await waitFor(() => seen.size >= before + 2, 30_000, 'the two small records')
    const dead = await outbox.deadLetters(db.pool, { sink: 'kafka' })
    expect(dead).toHaveLength(1)
    expect(dead[0]?.payload).toMatchObject({ topic: small, key: 'b' })
    expect(dead[0]?.lastError).toMatch(/MESSAGE_TOO_LARGE/)
    const health = await relay.health()
    expect(health.sinks.kafka).toMatchObject({ status: 'degraded', dead: 1 })
  })
})
