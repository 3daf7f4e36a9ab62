/**
 * `ensureViewTopics` on the harness's Kafka (one KRaft node, 127.0.0.1:9092): the three topics
 * created with the settings asked (read back with the admin API, not from the report), a second
 * call that changes nothing, two concurrent calls creating each topic once, existing topics that
 * differ (fewer partitions, another retention) refused with every difference named and nothing
 * created, a replication factor the node cannot hold, a refused port, a refused SASL login, and a
 * consumer that dead-letters into the `.dlq` the helper made (the same derived name).
 */
import { freePort, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import kafkajs, { type Admin, type Kafka, Kafka as KafkaClient, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createMetricsConsumer,
  ensureViewTopics,
  kafkaSource,
  MetricsStreamError,
  TopicMismatchError,
} from '../../../src/index.js'
import { FAST_GROUP, kafkaClient, urls, waitFor } from '../../helpers/harness.js'
import { invoiceView } from '../../helpers/invoices.js'

const kafka: Kafka = kafkaClient()
let admin: Admin
const made: string[] = []

/** A topic name this file owns; its `.dlq` and `.late` are deleted with it. */
function name(): string {
  const topic = uniqueName('ms-topics')
  made.push(topic, `${topic}.dlq`, `${topic}.late`)
  return topic
}

async function configs(topic: string, names: string[]): Promise<Record<string, string | null>> {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: names }],
  })
  return Object.fromEntries((resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]))
}

async function partitionCount(topic: string): Promise<number> {
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
  return topics[0]?.partitions.length ?? 0
}

async function existing(prefix: string): Promise<string[]> {
  return (await admin.listTopics()).filter((t) => t.startsWith(prefix)).sort()
}

beforeAll(async () => {
  admin = kafka.admin()
  await admin.connect()
})

afterAll(async () => {
  const present = new Set(await admin.listTopics())
  const topics = made.filter((t) => present.has(t))
  if (topics.length > 0) await admin.deleteTopics({ topics })
  await admin.disconnect()
})

describe('ensureViewTopics on real Kafka', () => {
  it('creates the input, .dlq and .late topics with the settings asked; a second call changes nothing', async () => {
    const topic = name()
    const report = await ensureViewTopics({
      kafka,
      topic,
      partitions: 3,
      replicationFactor: 1,
      minInsyncReplicas: 1,
      retention: '2d',
      sideTopics: { retention: '3d' },
    })
    expect(report.topics).toEqual([
      { role: 'events', name: topic, created: true, partitions: 3, replicationFactor: 1 },
      { role: 'dead-letter', name: `${topic}.dlq`, created: true, partitions: 1, replicationFactor: 1 },
      { role: 'late', name: `${topic}.late`, created: true, partitions: 1, replicationFactor: 1 },
    ])
    // What the broker holds, read back independently of the report.
    expect(await partitionCount(topic)).toBe(3)
    expect(await partitionCount(`${topic}.dlq`)).toBe(1)
    const names = ['retention.ms', 'min.insync.replicas']
    expect(await configs(topic, names)).toEqual({ 'retention.ms': '172800000', 'min.insync.replicas': '1' })
    expect(await configs(`${topic}.late`, names)).toEqual({
      'retention.ms': '259200000',
      'min.insync.replicas': '1',
    })

    const again = await ensureViewTopics({
      kafka,
      topic,
      partitions: 3,
      retention: '2d',
      sideTopics: { retention: '3d' },
    })
    expect(again.topics.map((t) => [t.name, t.created, t.partitions])).toEqual([
      [topic, false, 3],
      [`${topic}.dlq`, false, 1],
      [`${topic}.late`, false, 1],
    ])
    expect(await partitionCount(topic)).toBe(3)
  })

  it('defaults: the input topic keeps everything (retention.ms -1), the side topics 7 days, the broker partition count', async () => {
    const topic = name()
    const report = await ensureViewTopics({
      kafka,
      topic,
      deadLetterTopic: `${topic}.dlq`,
      lateTopic: `${topic}.late`,
    })
    expect(report.topics.every((t) => t.created)).toBe(true)
    expect((await configs(topic, ['retention.ms']))['retention.ms']).toBe('-1')
    expect((await configs(`${topic}.dlq`, ['retention.ms']))['retention.ms']).toBe('604800000')
    // The harness broker's num.partitions is 1.
    expect(report.topics[0]?.partitions).toBe(1)
  })

  it('two concurrent calls: each topic created exactly once, both succeed', async () => {
    const topic = name()
    const [a, b] = await Promise.all([
      ensureViewTopics({ kafka: kafkaClient(), topic, partitions: 2 }),
      ensureViewTopics({ kafka: kafkaClient(), topic, partitions: 2 }),
    ])
    for (let i = 0; i < 3; i++) {
      const createdBy = [a.topics[i]?.created, b.topics[i]?.created].filter(Boolean)
      expect(createdBy).toHaveLength(1)
    }
    expect(await partitionCount(topic)).toBe(2)
  })

  it('an existing topic with fewer partitions and another retention: one TopicMismatchError naming both, nothing created or changed', async () => {
    const topic = name()
    await admin.createTopics({
      waitForLeaders: false,
      topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '86400000' }] }],
    })
    await waitFor('the topic', async () => (await partitionCount(topic)) === 2)
    const failure = await ensureViewTopics({ kafka, topic, partitions: 4, retention: '2d' }).catch(
      (error: unknown) => error,
    )
    expect(failure).toBeInstanceOf(TopicMismatchError)
    const mismatch = failure as TopicMismatchError
    expect(mismatch.code).toBe('E_STREAM_TOPIC_MISMATCH')
    expect(mismatch.retriable).toBe(false)
    expect(mismatch.topic).toBe(topic)
    expect(mismatch.mismatches).toEqual([
      { topic, setting: 'partitions', expected: '4', actual: '2' },
      { topic, setting: 'retention.ms', expected: '172800000', actual: '86400000' },
    ])
    expect(mismatch.message).toContain(`${topic} has 2 partitions, at least 4 asked`)
    expect(mismatch.message).toContain('adding partitions moves keys')
    // Nothing was created (no .dlq, no .late) and the topic is as it was.
    expect(await existing(topic)).toEqual([topic])
    expect(await partitionCount(topic)).toBe(2)
    expect((await configs(topic, ['retention.ms']))['retention.ms']).toBe('86400000')

    // More partitions than asked is accepted, and a default (retention not given) is not checked.
    const report = await ensureViewTopics({ kafka, topic, partitions: 1 })
    expect(report.topics.map((t) => [t.created, t.partitions])).toEqual([
      [false, 2],
      [true, 1],
      [true, 1],
    ])
  })

  it('a replication factor above the live brokers: E_STREAM_KAFKA, retriable, named; nothing created', async () => {
    const topic = name()
    const failure = await ensureViewTopics({ kafka, topic, replicationFactor: 3 }).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(MetricsStreamError)
    expect((failure as MetricsStreamError).code).toBe('E_STREAM_KAFKA')
    expect((failure as MetricsStreamError).retriable).toBe(true)
    expect((failure as MetricsStreamError).topic).toBe(topic)
    expect((failure as Error).message).toContain('replication factor asked exceeds the brokers alive now')
    expect(await existing(topic)).toEqual([])
  })

  it('a setting the broker refuses: E_STREAM_INVALID_OPTION, not retriable; nothing created', async () => {
    const topic = name()
    // Kafka's own limit: retention.ms must be a long; 2^63 ms is not.
    const failure = await ensureViewTopics({ kafka, topic, retention: 2 ** 63 }).catch((e: unknown) => e)
    expect((failure as MetricsStreamError).code).toBe('E_STREAM_INVALID_OPTION')
    expect((failure as MetricsStreamError).retriable).toBe(false)
    expect((failure as Error).message).toContain('INVALID_CONFIG')
    expect(await existing(topic)).toEqual([])
  })

  it('Kafka refusing the connection: E_STREAM_KAFKA, retriable', async () => {
    const port = await freePort()
    const down = new KafkaClient({
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 500,
      retry: { retries: 0 },
    })
    const failure = await ensureViewTopics({ kafka: down, topic: name() }).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(MetricsStreamError)
    expect((failure as MetricsStreamError).code).toBe('E_STREAM_KAFKA')
    expect((failure as MetricsStreamError).retriable).toBe(true)
  })

  it.skipIf(urls.kafkaSasl === undefined)(
    'a refused SASL login: E_STREAM_KAFKA_AUTH, no password in the message',
    async () => {
      const wrong = `wrong-${uniqueName('pw')}`
      const sasl = urls.kafkaSasl
      if (sasl === undefined) return
      const client = new KafkaClient({
        brokers: sasl.brokers,
        logLevel: logLevel.NOTHING,
        retry: { retries: 0 },
        sasl: { mechanism: sasl.mechanism, username: sasl.username, password: wrong } as never,
      })
      const failure = await ensureViewTopics({ kafka: client, topic: name() }).catch((e: unknown) => e)
      expect((failure as MetricsStreamError).code).toBe('E_STREAM_KAFKA_AUTH')
      expect((failure as MetricsStreamError).retriable).toBe(false)
      expect((failure as Error).message).not.toContain(wrong)
    },
  )

  it('the consumer dead-letters into the .dlq topic the helper made', async () => {
    const topic = name()
    await ensureViewTopics({ kafka, topic, partitions: 2 })
    const redis = new Redis(urls.redis, { maxRetriesPerRequest: null })
    const namespace = uniqueName('ms-topics')
    const consumer = createMetricsConsumer({
      redis,
      namespace,
      view: invoiceView,
      source: kafkaSource({ kafka, groupId: `${namespace}-g`, topics: [topic], consumer: FAST_GROUP }),
    })
    const producer = kafka.producer({ allowAutoTopicCreation: false })
    const reader = kafka.consumer({ groupId: uniqueName('ms-topics-reader'), ...FAST_GROUP })
    try {
      await consumer.start()
      await producer.connect()
      await producer.send({ topic, messages: [{ key: 'k', value: 'not json' }] })
      const seen: string[] = []
      await reader.connect()
      await reader.subscribe({ topic: `${topic}.dlq`, fromBeginning: true })
      await reader.run({
        eachMessage: async ({ message }) => {
          seen.push(String(message.headers?.['x-error-code']))
        },
      })
      await waitFor('the dead letter', () => seen.length >= 1)
      expect(seen).toEqual(['E_STREAM_INVALID_EVENT'])
      expect(consumer.stats().deadLettered).toBe(1)
    } finally {
      await reader.disconnect()
      await producer.disconnect()
      await consumer.stop()
      const keys = await redis.keys(`${namespace}*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    }
  })
})
