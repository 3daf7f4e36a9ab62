import { inspect } from 'node:util'
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KAFKA_BROKERS, kafkaSecurity, uniqueName } from '../helpers/env.js'

// The harness's authenticated listeners (services/README.md, "Kafka with credentials and TLS"):
// the SCRAM user logs in on SASL_PLAINTEXT and SASL_SSL with both mechanisms, TLS needs the
// harness's CA, wrong credentials and a missing CA are refused, and all of them reach the same
// broker as PLAINTEXT (a record written on one listener is read on another).
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

const security = kafkaSecurity()
const clients: Array<{ disconnect(): Promise<void> }> = []

/** A client with a fresh `sasl` object each time: kafkajs stores its authenticator in it. */
function kafka(config: Omit<KafkaConfig, 'clientId'>): Kafka {
  return new Kafka({
    clientId: 'ayala-services-security-test',
    logLevel: logLevel.NOTHING,
    retry: { retries: 1, initialRetryTime: 100 },
    connectionTimeout: 3_000,
    ...config,
  })
}

const scram = (mechanism: 'scram-sha-256' | 'scram-sha-512', password = security.password): SASLOptions =>
  ({ mechanism, username: security.username, password }) as SASLOptions

let topic: string

beforeAll(async () => {
  topic = uniqueName('services-security')
  const admin = kafka({ brokers: KAFKA_BROKERS }).admin()
  clients.push(admin)
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })
})

afterAll(async () => {
  const admin = kafka({ brokers: KAFKA_BROKERS }).admin()
  await admin.connect()
  await admin.deleteTopics({ topics: [topic], timeout: 10_000 }).catch(() => undefined)
  await admin.disconnect()
  await Promise.all(clients.map((c) => c.disconnect()))
})

/** Produce one record through `config`, then read the topic's high watermark over PLAINTEXT. */
async function produceThrough(config: Omit<KafkaConfig, 'clientId'>): Promise<number> {
  const producer = kafka(config).producer({ allowAutoTopicCreation: false })
  clients.push(producer)
  await producer.connect()
  await producer.send({ topic, acks: -1, messages: [{ value: 'through an authenticated listener' }] })
  await producer.disconnect()
  const admin = kafka({ brokers: KAFKA_BROKERS }).admin()
  clients.push(admin)
  await admin.connect()
  const [offsets] = await admin.fetchTopicOffsets(topic)
  await admin.disconnect()
  return Number(offsets?.high)
}

describe('the harness Kafka with credentials and TLS', () => {
  it('takes the SCRAM user on SASL_PLAINTEXT (SHA-256 and SHA-512) and on SASL_SSL, and TLS with its CA', async () => {
    const before = await produceThrough({ brokers: KAFKA_BROKERS })
    const ssl = { ca: [security.ca] }
    const through = [
      await produceThrough({ brokers: security.sasl, sasl: scram('scram-sha-256') }),
      await produceThrough({ brokers: security.sasl, sasl: scram('scram-sha-512') }),
      await produceThrough({ brokers: security.ssl, ssl }),
      await produceThrough({ brokers: security.saslSsl, ssl, sasl: scram('scram-sha-256') }),
    ]
    // The same broker: each record lands on the same partition, one after the other.
    expect(through).toEqual([before + 1, before + 2, before + 3, before + 4])
  })

  it('refuses a wrong SCRAM password with one authentication error that does not carry the password', async () => {
    const wrong = `${security.password}-wrong`
    const client = kafka({ brokers: security.sasl, sasl: scram('scram-sha-256', wrong) })
    const producer = client.producer()
    clients.push(producer)
    const error = await producer.connect().then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(error?.name).toBe('KafkaJSSASLAuthenticationError')
    expect(error?.message).toMatch(/invalid credentials/)
    const text = inspect(error, { depth: Number.POSITIVE_INFINITY })
    expect(text.includes(wrong) || text.includes(security.password)).toBe(false)
  })

  it('refuses TLS without the harness CA, and SASL listeners without credentials', async () => {
    const noCa = kafka({ brokers: security.ssl, ssl: true }).producer()
    clients.push(noCa)
    await expect(noCa.connect()).rejects.toThrow(/self-signed certificate/)
    const anonymous = kafka({ brokers: security.sasl }).admin()
    clients.push(anonymous)
    // Without SASL the broker closes the connection at the first request after ApiVersions.
    await expect(anonymous.connect().then(() => anonymous.listTopics())).rejects.toThrow()
  })
})
