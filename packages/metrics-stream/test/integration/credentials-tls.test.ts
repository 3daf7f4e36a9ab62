/**
 * The consumer and the dashboard with credentials and TLS on both sides: Kafka through the
 * harness's SASL_PLAINTEXT (SCRAM-SHA-256), SSL and SASL_SSL (SCRAM-SHA-512) listeners, Redis a
 * private `redis-server` serving TLS only with an ACL user (certificates made with openssl at
 * test time). Each run's figures are compared with the truth computed from the produced events.
 * Then wrong credentials, one service at a time: one typed error (`E_STREAM_KAFKA_AUTH`,
 * `E_STREAM_REDIS_AUTH` naming the user), a start that can be retried, `health()` down with that
 * code, no unhandled `error` event, and no secret in any message or deeply inspected error.
 */
import { randomBytes } from 'node:crypto'
import { inspect, isDeepStrictEqual } from 'node:util'
import {
  makeTestCertificates,
  type PrivateRedis,
  serviceUrls,
  startPrivateRedis,
  type TestCertificates,
  uniqueName,
} from '@ayala/testkit'
import { Redis } from 'ioredis'
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createDashboard,
  createEventProducer,
  createMetricsConsumer,
  kafkaSource,
  type MetricsConsumer,
  type MetricsStreamError,
} from '../../src/index.js'
import { FAST_GROUP, waitFor } from '../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  invoiceView,
  READ_RANGE,
} from '../helpers/invoices.js'

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
const saslSsl = listener(urls.kafkaSaslSsl)

const REDIS_USER = 'dashboards'
const REDIS_PASSWORD = `pw-${randomBytes(9).toString('base64url')}`
const WRONG = `wrong-${randomBytes(9).toString('base64url')}`

let certs: TestCertificates
let server: PrivateRedis
const redisClients: Redis[] = []
const cleanups: Array<() => Promise<unknown>> = []
const stderr: string[] = []
const writeStderr = process.stderr.write
const uncaught: unknown[] = []
const onUncaught = (error: unknown) => uncaught.push(error)

/** The private server through TLS as `user` (the module's way: a URL, the CA as an option). */
function redis(password = REDIS_PASSWORD): Redis {
  const client = new Redis(
    `rediss://${REDIS_USER}:${encodeURIComponent(password)}@127.0.0.1:${server.port}`,
    { tls: { ca: certs.caPem }, maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 100, 1_000) },
  )
  redisClients.push(client)
  return client
}

/** A kafkajs client with a fresh `sasl` object (kafkajs keeps its authenticator in it). */
function kafka(config: Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'>): Kafka {
  return new Kafka({
    clientId: uniqueName('ms-auth'),
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 100 },
    ...config,
  })
}

const scram = (mechanism: 'scram-sha-256' | 'scram-sha-512', password = sasl.password): SASLOptions =>
  ({ mechanism, username: sasl.username, password }) as SASLOptions

/** Every form a secret could take in output. */
function leaks(text: string): string[] {
  return [REDIS_PASSWORD, WRONG, sasl.password, encodeURIComponent(REDIS_PASSWORD)].filter((s) =>
    text.includes(s),
  )
}

const deep = (value: unknown) => inspect(value, { depth: Number.POSITIVE_INFINITY })

beforeAll(async () => {
  certs = makeTestCertificates()
  server = await startPrivateRedis({ tls: certs, users: { [REDIS_USER]: REDIS_PASSWORD } })
  process.on('uncaughtException', onUncaught)
  process.on('unhandledRejection', onUncaught)
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    stderr.push(String(chunk))
    return (writeStderr as (...args: unknown[]) => boolean).call(process.stderr, chunk, ...rest)
  }) as typeof process.stderr.write
})

afterAll(async () => {
  process.stderr.write = writeStderr
  process.off('uncaughtException', onUncaught)
  process.off('unhandledRejection', onUncaught)
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
  for (const client of redisClients) client.disconnect()
  await server?.dispose()
  certs?.remove()
})

/** Produce `count` invoices' events through `config`, aggregate them through the same listener. */
async function roundTrip(config: Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'>, count: number) {
  const topic = uniqueName('ms-auth')
  const namespace = uniqueName('ms-auth')
  const client = kafka(config)
  const admin = client.admin()
  await admin.connect()
  cleanups.push(async () => {
    await admin.deleteTopics({ topics: [topic] })
    await admin.disconnect()
  })
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })
  const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  cleanups.push(() => producer.disconnect())
  const events = generateEvents(count, count)
  const send = createEventProducer<InvoiceEvent>({ producer, topic, key: (e) => e.id })
  await send.send(events)

  const consumer = createMetricsConsumer<InvoiceEvent>({
    redis: redis(),
    namespace,
    view: invoiceView,
    source: kafkaSource({
      kafka: kafka(config),
      groupId: `${namespace}-g`,
      topics: [topic],
      consumer: FAST_GROUP,
    }),
  })
  cleanups.push(() => consumer.stop())
  await consumer.start()
  const dashboard = createDashboard({ redis: redis(), namespace, view: invoiceView })
  cleanups.push(() => dashboard.close())
  const truth = groundTruth(events)
  const snapshot = await waitFor(
    'the figures to equal the truth',
    async () => {
      const read = await dashboard.read(READ_RANGE)
      return isDeepStrictEqual(asTruth(read.figures), truth) ? read : undefined
    },
    50_000,
  )
  return { events: events.length, invoices: snapshot.figures.invoices, truth: truth.invoices, consumer }
}

describe('metrics-stream with credentials and TLS', () => {
  it('aggregates through SASL/SCRAM-SHA-256 into Redis over TLS as an ACL user: figures equal the truth', async () => {
    const run = await roundTrip({ brokers: sasl.brokers, sasl: scram('scram-sha-256') }, 300)
    expect(run.invoices).toBe(run.truth)
    expect((await run.consumer.health()).state).toBe('up')
  })

  it('aggregates through TLS (the harness CA) and through SASL_SSL with SCRAM-SHA-512', async () => {
    const tls = await roundTrip({ brokers: ssl.brokers, ssl: { ca: [ssl.caPem] } }, 200)
    expect(tls.invoices).toBe(tls.truth)
    const both = await roundTrip(
      { brokers: saslSsl.brokers, ssl: { ca: [saslSsl.caPem] }, sasl: scram('scram-sha-512') },
      200,
    )
    expect(both.invoices).toBe(both.truth)
  })

  it('a wrong SCRAM password: one E_STREAM_KAFKA_AUTH per start, retriable start, health down, no secret', async () => {
    const wrong = kafka({ brokers: sasl.brokers, sasl: scram('scram-sha-256', WRONG) })
    const consumer: MetricsConsumer<InvoiceEvent> = createMetricsConsumer<InvoiceEvent>({
      redis: redis(),
      namespace: uniqueName('ms-auth'),
      view: invoiceView,
      source: kafkaSource({ kafka: wrong, groupId: uniqueName('ms-auth'), topics: [uniqueName('ms-auth')] }),
    })
    const errors: MetricsStreamError[] = []
    for (let attempt = 0; attempt < 3; attempt++)
      errors.push(
        await consumer.start().then(
          () => expect.fail('started'),
          (e: MetricsStreamError) => e,
        ),
      )
    // Every attempt fails the same clear way (never "already started": nothing was left behind).
    expect(errors.map((e) => e.code)).toEqual([
      'E_STREAM_KAFKA_AUTH',
      'E_STREAM_KAFKA_AUTH',
      'E_STREAM_KAFKA_AUTH',
    ])
    expect(errors[0]?.retriable).toBe(false)
    expect(errors[0]?.message).toMatch(
      /the broker refused the SASL credentials: KafkaJSSASLAuthenticationError: SASL SCRAM SHA256 authentication failed/,
    )
    const health = await consumer.health()
    expect(health.state).toBe('down')
    expect(health.reasons[0]).toMatchObject({ code: 'E_STREAM_KAFKA_AUTH', state: 'down' })
    expect(leaks([...errors.map(deep), deep(health), stderr.join('')].join('\n'))).toEqual([])
    await consumer.stop()
  })

  it('a wrong Redis password: E_STREAM_REDIS_AUTH naming the user, dashboard reads unavailable, no secret, no unhandled error', async () => {
    const client = redis(WRONG)
    const consumer = createMetricsConsumer<InvoiceEvent>({
      redis: client,
      namespace: uniqueName('ms-auth'),
      view: invoiceView,
      source: kafkaSource({
        kafka: kafka({ brokers: sasl.brokers, sasl: scram('scram-sha-256') }),
        groupId: uniqueName('ms-auth'),
        topics: [uniqueName('ms-auth')],
      }),
    })
    const started = await consumer.start().then(
      () => expect.fail('started'),
      (e: MetricsStreamError) => e,
    )
    expect(started.code).toBe('E_STREAM_REDIS_AUTH')
    expect(started.message).toBe(
      `Redis at 127.0.0.1:${server.port} (TLS) rejected the credentials of user "${REDIS_USER}" (WRONGPASS invalid username-password pair or user is disabled.)`,
    )
    const dashboard = createDashboard({ redis: client, namespace: uniqueName('ms-auth'), view: invoiceView })
    const read = await dashboard.read().then(
      () => expect.fail('read'),
      (e: MetricsStreamError) => e,
    )
    expect(read.code).toBe('E_STREAM_UNAVAILABLE')
    expect(read.message).toContain(`rejected the credentials of user "${REDIS_USER}"`)
    const health = await consumer.health()
    expect(health.reasons[0]).toMatchObject({ code: 'E_STREAM_REDIS_AUTH', state: 'down' })
    await dashboard.close()
    await consumer.stop()
    expect(leaks([deep(started), deep(read), deep(health), stderr.join('')].join('\n'))).toEqual([])
    expect(stderr.join('')).not.toContain('Unhandled error event')
    expect(uncaught).toEqual([])
  })
})
