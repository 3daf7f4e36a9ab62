/**
 * Test harness: unique topics with several partitions (leaders awaited), a kafkajs client with
 * short group timeouts, the ground-truth comparison, bounded polling, and cleanup of topics and
 * keys. Every test owns its namespace and topics.
 */
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { type Admin, Kafka, logLevel, type Producer } from 'kafkajs'
import {
  createEventProducer,
  createMetricsConsumer,
  kafkaSource,
  type MetricsConsumer,
  type MetricsConsumerOptions,
  viewKeys,
} from '../../src/index.js'
import { type InvoiceEvent, invoiceView } from '../invoices.js'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

export const urls = serviceUrls()

export function kafkaClient(clientId = uniqueName('ms-client')): Kafka {
  return new Kafka({ clientId, brokers: urls.kafkaBrokers, logLevel: logLevel.NOTHING })
}

/** Short group timeouts so joins and rebalances take seconds, not tens of seconds. */
export const FAST_GROUP = {
  sessionTimeout: 6_000,
  rebalanceTimeout: 6_000,
  heartbeatInterval: 500,
  maxWaitTimeInMs: 200,
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined && value !== false) return value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`, { cause: last })
    await new Promise((done) => setTimeout(done, 100))
  }
}

/** One test's world: its topics, namespace, clients; `dispose()` removes topics and keys. */
export class World {
  readonly namespace = uniqueName('ms')
  readonly topic = uniqueName('ms-inv')
  readonly dlq = `${this.topic}.dlq`
  readonly late = `${this.topic}.late`
  readonly kafka = kafkaClient()
  readonly redis: Redis
  redisErrors = 0
  admin!: Admin
  producer!: Producer
  private readonly consumers: MetricsConsumer<InvoiceEvent>[] = []

  constructor(
    readonly partitions = 4,
    redisUrl = urls.redis,
  ) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null })
    // Tests that stop a private Redis expect connection errors: count them instead of logging.
    this.redis.on('error', () => {
      this.redisErrors++
    })
  }

  async init(): Promise<this> {
    this.admin = this.kafka.admin()
    await this.admin.connect()
    const topics = [this.topic, this.dlq, this.late]
    await this.admin.createTopics({
      waitForLeaders: false,
      topics: [
        { topic: this.topic, numPartitions: this.partitions },
        { topic: this.dlq, numPartitions: 1 },
        { topic: this.late, numPartitions: 1 },
      ],
    })
    // kafkajs's own leader wait (`waitForLeaders`) gives up on UNKNOWN_TOPIC_OR_PARTITION, which a
    // loaded broker still answers for a moment after the creation: poll the metadata instead.
    await waitFor('the new topics to have leaders', async () => {
      const metadata = await this.admin.fetchTopicMetadata({ topics })
      return metadata.topics.every(
        (t) => t.partitions.length > 0 && t.partitions.every((partition) => partition.leader >= 0),
      )
    })
    // Idempotent: a produce request retried under load must not write its records twice, or
    // the topic itself would hold duplicates (which the consumer rightly applies).
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await this.producer.connect()
    return this
  }

  async produce(events: readonly InvoiceEvent[]): Promise<void> {
    const producer = createEventProducer<InvoiceEvent>({
      producer: this.producer,
      topic: this.topic,
      key: (e) => e.id,
    })
    for (let i = 0; i < events.length; i += 500) await producer.send(events.slice(i, i + 500))
  }

  async produceRaw(values: Array<string | null>): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      messages: values.map((value, i) => ({ key: `raw-${i}`, value })),
    })
  }

  consumer(
    groupId = `${this.namespace}-g`,
    options: Partial<MetricsConsumerOptions<InvoiceEvent>> = {},
    commitInterval = 1_000,
  ): MetricsConsumer<InvoiceEvent> {
    const consumer = createMetricsConsumer<InvoiceEvent>({
      redis: this.redis,
      namespace: this.namespace,
      view: invoiceView,
      source: kafkaSource({
        kafka: this.kafka,
        groupId,
        topics: [this.topic],
        commitInterval,
        consumer: FAST_GROUP,
      }),
      chunkSize: 100,
      ...options,
    })
    this.consumers.push(consumer)
    return consumer
  }

  /** Records Kafka holds beyond what Redis applied, summed (public keys + admin offsets only). */
  async lag(generation = 1): Promise<number> {
    const keys = viewKeys(this.namespace, invoiceView.name, generation)
    const highs = await this.admin.fetchTopicOffsets(this.topic)
    let lag = 0
    for (const { partition, high } of highs) {
      const stored = await this.redis.hget(keys.partition(this.topic, partition), 'offset')
      lag += Number(high) - (stored === null ? 0 : Number(stored) + 1)
    }
    return lag
  }

  async waitCaughtUp(generation = 1, timeoutMs = 90_000): Promise<void> {
    await waitFor('Redis to catch up with Kafka', async () => (await this.lag(generation)) === 0, timeoutMs)
  }

  /** Sum of a partition-state counter (applied, late, dead) over partitions. */
  async stateCounter(field: string, generation = 1): Promise<number> {
    const keys = viewKeys(this.namespace, invoiceView.name, generation)
    let total = 0
    for (let p = 0; p < this.partitions; p++)
      total += Number((await this.redis.hget(keys.partition(this.topic, p), field)) ?? 0)
    return total
  }

  async readTopic(topic: string, expected: number) {
    const consumer = this.kafka.consumer({ groupId: uniqueName('ms-reader'), ...FAST_GROUP })
    const seen: Array<{ value: string | null; headers: Record<string, string> }> = []
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {}
        for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value)
        seen.push({ value: message.value?.toString('utf8') ?? null, headers })
      },
    })
    try {
      await waitFor(`${expected} records on ${topic}`, () => seen.length >= expected)
    } finally {
      await consumer.disconnect()
    }
    return seen
  }

  async dispose(): Promise<void> {
    await Promise.allSettled(this.consumers.map((c) => c.stop()))
    await this.producer?.disconnect()
    await this.admin?.deleteTopics({ topics: [this.topic, this.dlq, this.late] }).catch((error: unknown) => {
      console.warn('deleteTopics failed', error)
    })
    await this.admin?.disconnect()
    let cursor = '0'
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `{${this.namespace}:*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await this.redis.unlink(...keys)
    } while (cursor !== '0')
    this.redis.disconnect()
  }
}
