/**
 * The kafkajs 2.2.4 {@link Source}. The mechanism notes on its traps:
 *
 * - The `GROUP_JOIN` instrumentation event is emitted synchronously inside the join, before the
 *   first fetch of the new assignment, but kafkajs does not await listeners: so the listener only
 *   records the assignment (synchronously) and never seeks. Resuming from Redis's offset happens
 *   in the consumer's batch handler (filter by the stored offset, seek when Kafka is behind or
 *   ahead of it), which is immune to that race.
 * - `eachBatchAutoResolve: false`: records are resolved only after the Redis script returned, so
 *   Kafka's committed offset never runs ahead of Redis; an unresolved batch is fetched again.
 *   With `autoCommit` on, kafkajs commits the resolved offsets after every batch (and within a
 *   batch every `autoCommitInterval`): a crash replays at most the batch in hand.
 * - heartbeats are only sent between batches by kafkajs itself: the consumer heartbeats between
 *   chunks.
 */
import type { Admin, Consumer, ConsumerConfig, Kafka, Producer } from 'kafkajs'
import { MetricsStreamError } from '../errors.js'
import type { OutgoingMessage, Source, SourceBatch, SourceBatchContext } from './source.js'

/** Options of {@link kafkaSource}. */
export interface KafkaSourceOptions {
  /** A kafkajs client. */
  kafka: Kafka
  /** Consumer group id. */
  groupId: string
  /** Topics to consume. */
  topics: string[]
  /** Partitions handled in parallel by this member. @default 4 */
  partitionsConsumedConcurrently?: number | undefined
  /**
   * kafkajs `autoCommitInterval`: how often resolved offsets are committed *while* a batch is
   * being handled, in milliseconds. kafkajs also commits every resolved offset after each batch
   * it handed over, whatever this interval, so Kafka trails Redis by at most the batch in hand
   * (never leads it: offsets are resolved only after their script). @default 5000
   */
  commitInterval?: number | undefined
  /**
   * Extra kafkajs consumer settings (session timeout, heartbeat interval, max wait...).
   * `groupId` and `allowAutoTopicCreation` are set by the source.
   */
  consumer?: Omit<ConsumerConfig, 'groupId'> | undefined
}

/** Create a kafkajs-backed {@link Source} (consumes from the earliest offset on a new group). */
export function kafkaSource(options: KafkaSourceOptions): Source {
  if (options.topics.length === 0) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', 'kafkaSource: topics must not be empty')
  }
  const { kafka } = options
  let consumer: Consumer | undefined
  let producer: Producer | undefined
  let admin: Admin | undefined
  let assignment = 0
  let assigned = new Set<string>()

  const ensureProducer = async (): Promise<Producer> => {
    if (!producer) {
      producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false })
      await producer.connect()
    }
    return producer
  }

  return {
    topics: Object.freeze([...options.topics]),
    async start(handle) {
      if (consumer) throw new MetricsStreamError('E_STREAM_INVALID_OPTION', 'kafkaSource already started')
      const c = kafka.consumer({
        sessionTimeout: 10_000,
        rebalanceTimeout: 10_000,
        heartbeatInterval: 1_000,
        maxWaitTimeInMs: 500,
        ...options.consumer,
        groupId: options.groupId,
        allowAutoTopicCreation: false,
      })
      consumer = c
      c.on(c.events.GROUP_JOIN, (event) => {
        const next = new Set<string>()
        for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
          for (const partition of partitions) next.add(`${topic}:${partition}`)
        }
        assigned = next
        assignment++
      })
      await c.connect()
      await c.subscribe({ topics: options.topics, fromBeginning: true })
      await c.run({
        eachBatchAutoResolve: false,
        autoCommit: true,
        autoCommitInterval: options.commitInterval ?? 5_000,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 4,
        eachBatch: async (payload) => {
          const { batch } = payload
          const sourceBatch: SourceBatch = {
            topic: batch.topic,
            partition: batch.partition,
            messages: batch.messages,
          }
          const context: SourceBatchContext = {
            assignment,
            isActive: () => payload.isRunning() && !payload.isStale(),
            commit: async (offset) => {
              payload.resolveOffset(offset)
              await payload.commitOffsetsIfNecessary()
            },
            heartbeat: () => payload.heartbeat(),
            seek: (offset) => c.seek({ topic: batch.topic, partition: batch.partition, offset }),
          }
          await handle(sourceBatch, context)
        },
      })
    },
    isAssigned(topic, partition) {
      return assigned.has(`${topic}:${partition}`)
    },
    async send(topic: string, messages: OutgoingMessage[]) {
      if (messages.length === 0) return
      try {
        const p = await ensureProducer()
        await p.send({ topic, acks: -1, messages })
      } catch (error) {
        throw new MetricsStreamError('E_STREAM_KAFKA', `Producing to ${topic} failed`, {
          topic,
          // kafkajs marks what retrying cannot fix (e.g. acks other than -1 with idempotence).
          retriable: (error as { retriable?: unknown }).retriable !== false,
          cause: error,
        })
      }
    },
    async highWatermarks(topic) {
      if (!admin) {
        admin = kafka.admin()
        await admin.connect()
      }
      const offsets = await admin.fetchTopicOffsets(topic)
      return offsets.map(({ partition, high, low }) => ({ partition, high, low }))
    },
    async stop() {
      const closing = [consumer?.disconnect(), producer?.disconnect(), admin?.disconnect()]
      consumer = undefined
      producer = undefined
      admin = undefined
      await Promise.all(closing)
    },
  }
}
