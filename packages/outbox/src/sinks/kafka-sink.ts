/**
 * The Kafka sink: produces recorded records with `acks: -1` (all in-sync replicas), in outbox
 * order, each with an `x-outbox-seq` header (its identity, with the entity and version the value
 * holds). Delivery is at least once: a relay that crashed after the broker acknowledged and before
 * the rows were deleted produces them again, so the consumer must apply each record once by its
 * identity (`@ayala/metrics-stream` entity views skip a version they already applied).
 *
 * A broker that cannot be reached (or times out) fails the whole batch: it is retried with backoff
 * until `maxAge`. A record the broker refuses for good (too large, failing validation, a policy)
 * is isolated (the batch is sent again one record at a time) and becomes a dead letter; the rest
 * is delivered.
 *
 * Connection: kafkajs refuses to send through a producer that is not connected ("The producer is
 * disconnected"), which is what an application that could not connect at start-up (Kafka down,
 * refused credentials) holds. Given a producer with `connect()`, the sink connects it then (one
 * attempt at a time, shared by concurrent deliveries) and sends; a failed connect fails the
 * delivery, which the relay retries with its backoff, so Kafka coming back or the credentials
 * being fixed heals the sink without a restart. A refused SASL login is reported as `Kafka
 * refused the SASL credentials (...)` (kafkajs's reason: the mechanism, never the password).
 *
 * One partition per `sendBatch()`. kafkajs 2.2.4 can lose acknowledged records when one request
 * spans partitions led by several brokers and one of those leaders dies (found on the harness's
 * 3-node cluster, docs/operations.md; upstream tulios/kafkajs#1798): kafkajs retries only the
 * brokers that did not answer, with a partition->leader map recomputed from fresh metadata; the
 * dead leader's partitions now map to a broker that already answered, are skipped, and the call
 * resolves as if every record had been written. The outbox deletes its rows once the sink
 * resolves, so those records would be gone for good. The sink therefore groups a delivery by
 * topic and key (a key-based partitioner puts one key in one partition), keeps the outbox order
 * within each group, and sends one `sendBatch()` per group; a record without a key (kafkajs
 * partitions those round-robin) is a group of its own. Groups are sent one after the other, in
 * the order of their first record. Not concurrently: on the harness's cluster, kafkajs 2.2.4's
 * idempotent producer given 8 concurrent one-partition requests lost records (the failover test in
 * test/cluster: 1, 2 and 1 of 2,000 missing in 3 of 3 runs, as many written twice, the log read
 * again by a fresh group agreeing; 0 in 3 runs with one request at a time). The lost records were early in the stream, before the
 * kill; the mechanism inside kafkajs's sequence bookkeeping is not established. The cost is one produce request per distinct key of a delivery, one round trip
 * each, instead of one per broker.
 *
 * Failures are per group: a group refused for good is isolated alone (its records sent again
 * one at a time; a group of one record is a dead letter at once), the other groups stay
 * delivered. A group that fails otherwise fails the delivery, no later group is sent (the relay
 * delivers it again, at least once); so does an aborted delivery (`deliveryTimeout`, the relay
 * stopping) with groups not yet sent.
 */

import { type Duration, toMs } from '../duration.js'
import type { KafkaEffectPayload } from '../effects.js'
import { describeError, OutboxError } from '../errors.js'
import { rejectUnknownKeys } from '../option-keys.js'
import {
  DELIVERED,
  type DeliveryContext,
  type DeliveryOutcome,
  type OutboxDelivery,
  type OutboxSink,
} from './sink.js'

/** The part of a kafkajs `Producer` the sink uses. */
export interface KafkaProducerLike {
  /**
   * Connect the producer (kafkajs `Producer.connect`): when present, the sink calls it to send
   * through a producer that is not connected (see the module note).
   */
  connect?: (() => Promise<void>) | undefined
  sendBatch(batch: {
    topicMessages: Array<{
      topic: string
      messages: Array<{ key: string | null; value: string; headers: Record<string, string> }>
    }>
    acks?: number
    timeout?: number
  }): Promise<unknown>
}

/** Options of {@link kafkaSink}. */
export interface KafkaSinkOptions {
  /**
   * A connected kafkajs producer. An idempotent one (`idempotent: true`) keeps kafkajs's own
   * retries from writing a record twice.
   */
  producer: KafkaProducerLike
  /**
   * Broker-side timeout of one produce request (a number is milliseconds, rounded up to a whole
   * one for the protocol). @default 10000
   */
  timeout?: Duration | undefined
}

const KAFKA_SINK_KEYS: ReadonlySet<string> = new Set(['producer', 'timeout'])

/**
 * The delivery's records grouped so that each group targets one partition: by topic and key, in
 * outbox order within a group; a record without a key alone.
 */
function groupByPartition<T extends OutboxDelivery<KafkaEffectPayload>>(items: readonly T[]): T[][] {
  const groups: T[][] = []
  const byKey = new Map<string, Map<string, T[]>>()
  for (const item of items) {
    const { topic, key } = item.payload
    if (key === null) {
      groups.push([item])
      continue
    }
    let keys = byKey.get(topic)
    if (keys === undefined) {
      keys = new Map()
      byKey.set(topic, keys)
    }
    const group = keys.get(key)
    if (group === undefined) {
      const created = [item]
      keys.set(key, created)
      groups.push(created)
    } else group.push(item)
  }
  return groups
}

/** Broker answers that no retry can change. */
const PERMANENT = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'POLICY_VIOLATION',
  'INVALID_TOPIC_EXCEPTION',
])

/** The permanent broker answer in `error`'s cause chain, if any. */
function permanentType(error: unknown): string | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 8 && current !== null && typeof current === 'object'; depth++) {
    const type = (current as { type?: unknown }).type
    if (typeof type === 'string' && PERMANENT.has(type)) return type
    current =
      (current as { cause?: unknown; originalError?: unknown }).cause ??
      (current as { originalError?: unknown }).originalError
  }
  return undefined
}

function message(item: OutboxDelivery<KafkaEffectPayload>) {
  const { key, value, headers } = item.payload
  return { key, value, headers: { ...headers, 'x-outbox-seq': String(item.seq) } }
}

/** kafkajs's refusal to send through a producer that is not connected. */
function disconnected(error: unknown): boolean {
  return error instanceof Error && /producer is disconnected/i.test(error.message)
}

/** Whether `error` (or its cause) is kafkajs's refused SASL login. */
function saslRefused(error: unknown): boolean {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current.name === 'KafkaJSSASLAuthenticationError') return true
    current = (current as { cause?: unknown }).cause ?? (current as { originalError?: unknown }).originalError
  }
  return false
}

/** A refused SASL login said as such (the relay records and retries it like any failure). */
function clearer(error: unknown): unknown {
  if (!saslRefused(error)) return error
  return new OutboxError('E_OUTBOX_SINK', `Kafka refused the SASL credentials (${describeError(error)})`, {
    sink: 'kafka',
    retriable: true,
    cause: error,
  })
}

/**
 * A sink producing `kafkaEffect` records.
 *
 * @throws OutboxError `E_OUTBOX_INVALID_OPTION` for an unknown option, a `producer` without
 * `sendBatch()` or an invalid `timeout`
 */
export function kafkaSink(options: KafkaSinkOptions): OutboxSink<KafkaEffectPayload> {
  rejectUnknownKeys(options, KAFKA_SINK_KEYS, 'kafkaSink')
  const { producer } = options
  if (typeof producer?.sendBatch !== 'function') {
    throw new OutboxError('E_OUTBOX_INVALID_OPTION', 'kafkaSink: producer must be a kafkajs Producer', {
      sink: 'kafka',
    })
  }
  const timeout = Math.ceil(toMs(options.timeout ?? 10_000, 'timeout'))
  let connecting: Promise<void> | undefined
  const connect = (): Promise<void> => {
    if (connecting === undefined) {
      connecting = (producer.connect as () => Promise<void>).call(producer).finally(() => {
        connecting = undefined
      })
    }
    return connecting
  }
  /** One request: the records of one group, one topic and (at most) one key. */
  const sendOnce = async (items: readonly OutboxDelivery<KafkaEffectPayload>[]) => {
    const topic = (items[0] as OutboxDelivery<KafkaEffectPayload>).payload.topic
    await producer.sendBatch({
      topicMessages: [{ topic, messages: items.map(message) }],
      acks: -1,
      timeout,
    })
  }
  const send = async (items: readonly OutboxDelivery<KafkaEffectPayload>[]) => {
    try {
      await sendOnce(items)
    } catch (error) {
      if (!disconnected(error) || typeof producer.connect !== 'function') throw clearer(error)
      try {
        await connect()
      } catch (connectError) {
        throw clearer(connectError)
      }
      try {
        await sendOnce(items)
      } catch (retryError) {
        throw clearer(retryError)
      }
    }
  }
  /** The records of a group refused for good, found one at a time (the others are delivered). */
  const isolate = async (
    group: readonly OutboxDelivery<KafkaEffectPayload>[],
    context: DeliveryContext,
  ): Promise<DeliveryOutcome[]> => {
    const outcomes: DeliveryOutcome[] = []
    for (const item of group) {
      if (context.signal.aborted) throw context.signal.reason
      try {
        await send([item])
        outcomes.push(DELIVERED)
      } catch (error) {
        const type = permanentType(error)
        if (type === undefined) throw error
        outcomes.push({ status: 'rejected', error: `${type}: ${describeError(error)}` })
      }
    }
    return outcomes
  }
  return {
    async deliver(items, context: DeliveryContext): Promise<readonly DeliveryOutcome[]> {
      const indexed = items.map((item, index) => ({ ...item, index }))
      const groups = groupByPartition(indexed)
      const outcomes: DeliveryOutcome[] = items.map(() => DELIVERED)
      const refused: Array<{ group: typeof indexed; error: unknown }> = []
      for (const group of groups) {
        if (context.signal.aborted) throw context.signal.reason
        try {
          await send(group)
        } catch (error) {
          if (permanentType(error) === undefined) throw error
          refused.push({ group, error })
        }
      }
      // A group refused for good: find which of its records, one at a time.
      for (const { group, error } of refused) {
        const found: DeliveryOutcome[] =
          group.length === 1
            ? [{ status: 'rejected', error: `${permanentType(error)}: ${describeError(error)}` }]
            : await isolate(group, context)
        group.forEach((item, i) => {
          outcomes[item.index] = found[i] as DeliveryOutcome
        })
      }
      return outcomes
    },
  }
}
