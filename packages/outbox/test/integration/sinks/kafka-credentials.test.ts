/**
 * The Kafka sink through the harness's authenticated listeners: SASL_PLAINTEXT with SCRAM-SHA-256
 * and SSL with the harness CA, every committed record delivered once with its identity header.
 * Then a producer with a wrong SCRAM password, as an application that could not connect at
 * start-up holds it: each delivery attempt is one clear `Kafka refused the SASL credentials`
 * (retried with the relay's backoff, no dead letter, no retry storm), the password appears in no
 * `last_error` row, stats, health, event or inspected error, and a producer with the right
 * password, given the same rows, delivers them all (the sink connects it itself).
 */
import { inspect } from 'node:util'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, kafkaEffect, kafkaSink, type Outbox, type OutboxRelay } from '../../../src/index.ts'
import { type DriverUnderTest, mariadbDriver } from '../../helpers/databases.ts'
import { waitFor } from '../../helpers/recording-sink.ts'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

const urls = serviceUrls()
function listener<T>(value: T | undefined): T {
  if (value === undefined)
    throw new Error(
      "the harness's Kafka SASL/TLS listeners are not known: run node services/cli.mjs up (restart kafka if it predates them)",
    )
  return value
}
const sasl = listener(urls.kafkaSasl)
const ssl = listener(urls.kafkaSsl)
const WRONG = `${sasl.password}-wrong`

/** A fresh `sasl` object per client: kafkajs stores its authenticator in it. */
const scram = (password = sasl.password): SASLOptions =>
  ({ mechanism: sasl.mechanism, username: sasl.username, password }) as SASLOptions

function kafka(config: Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'>): Kafka {
  return new Kafka({
    clientId: uniqueName('outbox-auth'),
    logLevel: logLevel.NOTHING,
    retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 },
    ...config,
  })
}

describe('kafkaSink with credentials and TLS', () => {
  let db: DriverUnderTest
  let outbox: Outbox
  const relays: OutboxRelay[] = []
  const closing: Array<() => Promise<unknown>> = []

  beforeAll(async () => {
    db = mariadbDriver()
    outbox = createOutbox({ table: uniqueName('outbox').replace(/-/g, '_') })
    await outbox.ensureTable(db.pool)
  })

  afterAll(async () => {
    for (const relay of relays) await relay.stop()
    for (const close of closing.reverse()) await close().catch(() => undefined)
    await db.exec(`DROP TABLE IF EXISTS ${outbox.tableName}`)
    await db.close()
  })

  /** A topic on the listener of `config`, and a reader of its records (seq -> value). */
  async function topicOn(config: Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'>) {
    const topic = uniqueName('outbox-auth')
    const client = kafka(config)
    const admin = client.admin()
    await admin.connect()
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] })
    closing.push(async () => {
      await admin.deleteTopics({ topics: [topic] })
      await admin.disconnect()
    })
    const seen = new Map<string, string>()
    const reader = client.consumer({ groupId: uniqueName('outbox-auth'), maxWaitTimeInMs: 100 })
    await reader.connect()
    closing.push(() => reader.disconnect())
    await reader.subscribe({ topic, fromBeginning: true })
    await reader.run({
      eachMessage: async ({ message }) => {
        seen.set(message.headers?.['x-outbox-seq']?.toString() ?? '', message.value?.toString() ?? '')
      },
    })
    return { topic, seen }
  }

  async function enqueue(topic: string, from: number, to: number): Promise<void> {
    for (let n = from; n <= to; n++)
      await db.transaction((tx) => outbox.enqueue(tx, kafkaEffect({ topic, key: `k${n % 5}`, value: { n } })))
  }

  for (const [name, config] of [
    ['SASL_PLAINTEXT (SCRAM)', () => ({ brokers: sasl.brokers, sasl: scram() })],
    ['SSL (the harness CA)', () => ({ brokers: ssl.brokers, ssl: { ca: [ssl.caPem] } })],
  ] as const) {
    it(`delivers every committed record through ${name}`, async () => {
      const { topic, seen } = await topicOn(config())
      const producer = kafka(config()).producer({ idempotent: true, maxInFlightRequests: 1 })
      await producer.connect()
      closing.push(() => producer.disconnect())
      const relay = outbox.relay({
        db: db.pool,
        sinks: { kafka: kafkaSink({ producer }) },
        pollInterval: 50,
        retryDelay: 100,
      })
      relays.push(relay)
      relay.start()
      await enqueue(topic, 1, 40)
      await waitFor(async () => (await outbox.lag(db.pool)).kafka === undefined, 60_000, 'outbox drained')
      await waitFor(() => seen.size >= 40, 30_000, '40 records read back')
      await relay.stop()
      const values = [...seen.values()].map((v) => (JSON.parse(v) as { n: number }).n).sort((a, b) => a - b)
      expect(values).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      expect((await outbox.deadLetters(db.pool)).length).toBe(0)
    })
  }

  it('a wrong SCRAM password: one clear error per attempt, backoff, no secret; the right producer then delivers all', async () => {
    const { topic, seen } = await topicOn({ brokers: sasl.brokers, sasl: scram() })
    // As an application holds it after a failed connect at start-up.
    const wrong = kafka({ brokers: sasl.brokers, sasl: scram(WRONG) }).producer()
    await expect(wrong.connect()).rejects.toThrow(/authentication failed/)
    const events: unknown[] = []
    const relay = outbox.relay({
      db: db.pool,
      sinks: { kafka: kafkaSink({ producer: wrong }) },
      pollInterval: 50,
      retryDelay: 200,
      maxRetryDelay: 1_000,
    })
    relay.on('retry', (event) => events.push(event))
    relay.on('error', (event) => events.push(event))
    relays.push(relay)
    relay.start()
    await enqueue(topic, 1, 10)
    await waitFor(
      () => (relay.stats().kafka?.consecutiveFailures ?? 0) >= 3,
      30_000,
      'three failed deliveries',
    )
    await relay.stop()
    const stats = relay.stats().kafka
    expect(stats?.lastError).toMatch(
      /Kafka refused the SASL credentials \(KafkaJSSASLAuthenticationError: SASL SCRAM SHA256 authentication failed/,
    )
    const rows = await db.exec(`SELECT last_error FROM ${outbox.tableName}`)
    expect(rows.length).toBe(10)
    expect((await outbox.deadLetters(db.pool)).length).toBe(0)
    const health = await relay.health()
    const everything = [
      JSON.stringify(rows),
      JSON.stringify(relay.stats()),
      JSON.stringify(health),
      inspect(events, { depth: Number.POSITIVE_INFINITY }),
    ].join('\n')
    expect(everything.includes(WRONG)).toBe(false)
    expect(everything.includes(sasl.password)).toBe(false)
    console.log(
      `wrong password: ${stats?.consecutiveFailures} failed deliveries, ${events.length} events, 0 dead letters`,
    )

    // The right credentials, a producer never connected: the sink connects it and delivers.
    const right = kafka({ brokers: sasl.brokers, sasl: scram() }).producer({
      idempotent: true,
      maxInFlightRequests: 1,
    })
    closing.push(() => right.disconnect())
    const healed = outbox.relay({
      db: db.pool,
      sinks: { kafka: kafkaSink({ producer: right }) },
      pollInterval: 50,
    })
    relays.push(healed)
    healed.start()
    await waitFor(async () => (await outbox.lag(db.pool)).kafka === undefined, 60_000, 'outbox drained')
    await waitFor(() => seen.size >= 10, 30_000, '10 records read back')
    await healed.stop()
    expect(seen.size).toBe(10)
  }, 90_000)
})
