import { type Admin, type Consumer, Kafka, logLevel, type Producer } from 'kafkajs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { KAFKA_BROKERS, uniqueName } from '../helpers/env.js'

// kafkajs 2.2.4 against the harness's Kafka 4 broker. Kafka 4.0 dropped old protocol versions
// (KIP-896), but every version kafkajs picks from ApiVersions is still served, so the classic
// consumer-group protocol works: these tests prove it end to end.
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

const kafka = new Kafka({
  clientId: 'ayala-services-test',
  brokers: KAFKA_BROKERS,
  logLevel: logLevel.NOTHING,
  retry: { retries: 10, initialRetryTime: 200 },
})

let admin: Admin
let producer: Producer
const consumers: Consumer[] = []
const topics: string[] = []

async function createTopic(partitions: number): Promise<string> {
  const topic = uniqueName('services-test')
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
  })
  expect(created).toBe(true)
  topics.push(topic)
  return topic
}

function newConsumer(groupId: string): Consumer {
  // Short session and rebalance windows: one member, one broker, nothing to wait for.
  // maxWaitTimeInMs: a fetch long-polls that long when the topic is drained, and a seek only takes
  // effect at the next fetch.
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 500,
  })
  consumers.push(consumer)
  return consumer
}

function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const timer = setInterval(() => {
      if (predicate()) {
        clearInterval(timer)
        resolve()
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(timer)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      }
    }, 50)
  })
}

beforeAll(async () => {
  admin = kafka.admin()
  await admin.connect()
  producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
})

afterEach(async () => {
  await Promise.all(consumers.splice(0).map((c) => c.disconnect()))
})

afterAll(async () => {
  await producer?.disconnect()
  if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 })
  await admin?.disconnect()
})

describe('kafkajs 2.2.4 against the harness broker', () => {
  it('creates a topic with the admin client and reads its metadata back', async () => {
    const topic = await createTopic(3)
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] })
    expect(metadata.topics[0]?.partitions).toHaveLength(3)
    expect(await admin.listTopics()).toContain(topic)
  })

  it('joins a consumer group, consumes in eachBatch and commits the offsets', async () => {
    const topic = await createTopic(2)
    const groupId = uniqueName('services-group')
    const values = Array.from({ length: 50 }, (_, i) => `event-${i}`)
    await producer.send({ topic, messages: values.map((value, i) => ({ key: `key-${i % 7}`, value })) })

    const consumer = newConsumer(groupId)
    const joined: string[] = []
    consumer.on(consumer.events.GROUP_JOIN, (e) => joined.push(e.payload.memberId))
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })

    const seen: string[] = []
    let batches = 0
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
        batches++
        for (const message of batch.messages) {
          seen.push(message.value?.toString() ?? '')
          resolveOffset(message.offset)
        }
        // autoCommit is off: commit explicitly, after the batch is "applied".
        await consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) },
        ])
        await commitOffsetsIfNecessary()
        await heartbeat()
      },
    })
    await waitFor(() => seen.length >= values.length, 30_000, 'all 50 messages')

    expect(joined.length).toBeGreaterThanOrEqual(1)
    expect(batches).toBeGreaterThanOrEqual(1)
    expect([...seen].sort()).toEqual([...values].sort())

    await consumer.stop()
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] })
    const committed = offsets[0]?.partitions.reduce((sum, p) => sum + Number(p.offset), 0)
    expect(committed).toBe(values.length)
  })

  it('seeks back and redelivers from the chosen offset', async () => {
    const topic = await createTopic(1)
    const groupId = uniqueName('services-group')
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })) })

    const consumer = newConsumer(groupId)
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    const offsets: number[] = []
    await consumer.run({
      eachBatch: async ({ batch, resolveOffset }) => {
        for (const message of batch.messages) {
          offsets.push(Number(message.offset))
          resolveOffset(message.offset)
        }
      },
    })
    await waitFor(() => offsets.length >= 10, 30_000, 'the first pass over 10 messages')

    // seek() is only legal once run() has started; issued here (after the first pass), it does
    // not race the first fetch the way a seek from the GROUP_JOIN handler would.
    consumer.seek({ topic, partition: 0, offset: '6' })
    await waitFor(() => offsets.length >= 14, 30_000, 'redelivery of offsets 6..9')

    expect(offsets.slice(0, 10)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(offsets.slice(10, 14)).toEqual([6, 7, 8, 9])
  })
})
