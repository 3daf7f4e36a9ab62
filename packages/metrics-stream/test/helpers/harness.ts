/**
 * Test harness: unique topics with several partitions (leaders awaited), a kafkajs client with
 * short group timeouts, the ground-truth comparison, bounded polling, and cleanup of topics and
 * keys. Every test owns its namespace and topics.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { type Admin, Kafka, logLevel, type Producer } from 'kafkajs'
import {
  createEventProducer,
  createMetricsConsumer,
  type Duration,
  kafkaSource,
  type MetricsConsumer,
  type MetricsConsumerOptions,
  type MetricsConsumerStats,
  viewKeys,
} from '../../src/index.js'
import { type InvoiceEvent, invoiceView } from './invoices.js'

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

export const urls = serviceUrls()

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..')

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
    /** Topic settings of the events topic, e.g. `[{ name: 'cleanup.policy', value: 'compact' }]`. */
    private readonly topicConfig: Array<{ name: string; value: string }> = [],
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
        { topic: this.topic, numPartitions: this.partitions, configEntries: this.topicConfig },
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

  /** Produce JSON values with their keys (a key picks the partition), in slices of 500. */
  async produceJson(records: ReadonlyArray<{ key: string; value: unknown }>): Promise<void> {
    for (let i = 0; i < records.length; i += 500) {
      await this.producer.send({
        topic: this.topic,
        messages: records.slice(i, i + 500).map(({ key, value }) => ({
          key,
          value: typeof value === 'string' ? value : JSON.stringify(value),
        })),
      })
    }
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
    commitInterval: Duration = '1s',
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
      // The harness's size, unless the test gives one (under either name: `chunkSize` is the
      // deprecated alias, and giving both would be refused).
      ...(options.chunkSize === undefined ? { batchSize: 100 } : {}),
      ...options,
    })
    this.consumers.push(consumer)
    return consumer
  }

  /** A consumer of any view on this world's topic (`namespace` defaults to the world's). */
  consumerOf<E>(
    view: MetricsConsumerOptions<E>['view'],
    groupId: string,
    options: Partial<MetricsConsumerOptions<E>> = {},
  ): MetricsConsumer<E> {
    const consumer = createMetricsConsumer<E>({
      redis: this.redis,
      namespace: this.namespace,
      view,
      source: kafkaSource({
        kafka: this.kafka,
        groupId,
        topics: [this.topic],
        commitInterval: '1s',
        consumer: FAST_GROUP,
      }),
      // The harness's size, unless the test gives one (under either name: `chunkSize` is the
      // deprecated alias, and giving both would be refused).
      ...(options.chunkSize === undefined ? { batchSize: 100 } : {}),
      ...options,
    })
    this.consumers.push(consumer as unknown as MetricsConsumer<InvoiceEvent>)
    return consumer
  }

  /** Records Kafka holds beyond what Redis applied, summed (public keys + admin offsets only). */
  async lag(generation = 1, namespace = this.namespace): Promise<number> {
    const keys = viewKeys(namespace, invoiceView.name, generation)
    const highs = await this.admin.fetchTopicOffsets(this.topic)
    let lag = 0
    for (const { partition, high } of highs) {
      const stored = await this.redis.hget(keys.partition(this.topic, partition), 'offset')
      lag += Number(high) - (stored === null ? 0 : Number(stored) + 1)
    }
    return lag
  }

  async waitCaughtUp(generation = 1, timeoutMs = 90_000, namespace = this.namespace): Promise<void> {
    await waitFor(
      'Redis to catch up with Kafka',
      async () => (await this.lag(generation, namespace)) === 0,
      timeoutMs,
    )
  }

  /** Sum of a partition-state counter (applied, late, dead, dupes, stale) over partitions. */
  async stateCounter(field: string, generation = 1, namespace = this.namespace): Promise<number> {
    const keys = viewKeys(namespace, invoiceView.name, generation)
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
      // Namespaces are unique random names: a prefix match also removes `<namespace>-delta` etc.
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `{${this.namespace}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await this.redis.unlink(...keys)
    } while (cursor !== '0')
    this.redis.disconnect()
  }
}

/** A consumer in its own process (`consumer-process.ts`), for SIGKILL tests. */
export class Child {
  readonly process: ChildProcess
  last: MetricsConsumerStats | undefined
  started = false
  stderr = ''
  private buffer = ''
  constructor(world: World, group: string, view: 'delta' | 'entity' = 'delta') {
    this.process = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'consumer-process.ts')],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          KAFKA_BROKERS: urls.kafkaBrokers.join(','),
          REDIS_URL: urls.redis,
          MS_NAMESPACE: world.namespace,
          MS_TOPIC: world.topic,
          MS_GROUP: group,
          MS_VIEW: view,
          KAFKAJS_NO_PARTITIONER_WARNING: '1',
          NODE_NO_WARNINGS: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    this.process.stderr?.setEncoding('utf8')
    this.process.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4_000)
    })
    this.process.stdout?.setEncoding('utf8')
    this.process.stdout?.on('data', (chunk: string) => {
      this.buffer += chunk
      const lines = this.buffer.split('\n')
      this.buffer = lines.pop() ?? ''
      for (const line of lines) {
        if (line === 'started') this.started = true
        else if (line.startsWith('{')) this.last = JSON.parse(line) as MetricsConsumerStats
      }
    })
  }
  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null
  }
  kill(): Promise<void> {
    if (!this.running) return Promise.resolve()
    const exited = new Promise<void>((done) => this.process.once('exit', () => done()))
    this.process.kill('SIGKILL')
    return exited
  }
}
