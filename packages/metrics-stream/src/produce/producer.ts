/**
 * Producing events keyed by entity: every event of one entity (an invoice) lands in the same
 * partition, so the consumer applies them in order and a correction always follows the state it
 * corrects.
 *
 * One partition per `producer.send()`. kafkajs 2.2.4 can lose acknowledged records when one
 * send spans partitions led by several brokers and one of those leaders dies (found on the
 * harness's 3-node cluster, docs/operations.md; upstream tulios/kafkajs#1798): kafkajs retries
 * only the brokers that did not answer, with a partition->leader map recomputed from fresh
 * metadata; the dead leader's partitions now map to a broker that already answered that send,
 * are skipped, and `send()` resolves as if every record had been written (9, 9 and 7 records
 * missing in 3 of 5 runs, idempotent producer, `acks: -1`). A send whose records all go to one
 * partition has one leader: when it dies, the retry finds no answer for the new leader and sends
 * there. So `send(events)` groups the events by key (any key-based partitioner puts one key in one
 * partition), keeps each key's events in order within its group, and issues one `producer.send()`
 * per group.
 *
 * The cost: one produce request per distinct key of a call instead of one per broker, sent one
 * after the other. Not concurrently: on the harness's cluster, kafkajs 2.2.4's idempotent
 * producer given 8 concurrent one-partition requests lost records (the outbox's failover test: 1,
 * 2 and 1 of 2,000 missing in 3 of 3 runs, as many written twice, the log read again by a fresh
 * group agreeing; 0 in 3 runs with one request at a time). The lost records were early in the stream, before the kill; the mechanism
 * inside kafkajs's sequence bookkeeping is not established. The keys are sent in the order of
 * their first event; a key's events are one request, in order. A request that fails stops the call: the keys before it were written, as
 * part of a multi-broker send could be before; retrying the call can write those twice, which
 * entity-mode views skip by version.
 */
import type { Producer } from 'kafkajs'
import { MetricsStreamError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'

/** Options of {@link createEventProducer}. */
export interface EventProducerOptions<E> {
  /**
   * A connected kafkajs producer. Make it idempotent (`kafka.producer({ idempotent: true,
   * maxInFlightRequests: 1 })`): a plain producer that retries a timed-out request can write its
   * records twice, and the consumer's exactly-once effect cannot tell a duplicate record in the
   * log from a second real event. Its partitioner must place a record by its key (kafkajs's
   * default and legacy partitioners do): each `producer.send()` carries the events of one key and
   * must target one partition (see the module note).
   */
  producer: Producer
  /** Topic the events go to. */
  topic: string
  /** The entity id of an event (the Kafka key). */
  key: (event: E) => string
  /** Acknowledgements required: -1 all in-sync replicas, 1 the leader. @default -1 */
  acks?: -1 | 1 | undefined
}

const PRODUCER_OPTION_KEYS: ReadonlySet<string> = new Set(['producer', 'topic', 'key', 'acks'])

/** Sends events as JSON, keyed by entity. */
export interface EventProducer<E> {
  /**
   * Send events: one `producer.send()` per key (one partition each), one after the other, a
   * key's events in order within it; resolves once every one is acknowledged.
   */
  send(events: readonly E[]): Promise<void>
}

type Message = { key: string; value: string }

/** The messages grouped by key, each group in the order of `events`. */
function groupByKey<E>(events: readonly E[], key: (event: E) => string): Message[][] {
  const groups = new Map<string, Message[]>()
  for (const event of events) {
    const k = key(event)
    const message = { key: k, value: JSON.stringify(event) }
    const group = groups.get(k)
    if (group === undefined) groups.set(k, [message])
    else group.push(message)
  }
  return [...groups.values()]
}

/**
 * Create an {@link EventProducer}.
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` for an unknown option or `acks` other than
 * -1 or 1; `E_STREAM_KAFKA` from `send` when Kafka refuses (retriable unless kafkajs says the
 * failure is permanent)
 */
export function createEventProducer<E>(options: EventProducerOptions<E>): EventProducer<E> {
  checkOptionKeys(options, PRODUCER_OPTION_KEYS, 'createEventProducer')
  const { producer, topic, key } = options
  const acks = options.acks ?? -1
  if (acks !== -1 && acks !== 1) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `createEventProducer: acks must be -1 or 1, got ${String(acks)}`,
    )
  }
  return {
    async send(events) {
      if (events.length === 0) return
      for (const messages of groupByKey(events, key)) {
        try {
          await producer.send({ topic, acks, messages })
        } catch (error) {
          throw new MetricsStreamError('E_STREAM_KAFKA', `Producing to ${topic} failed`, {
            topic,
            // kafkajs marks what retrying cannot fix (e.g. acks other than -1 with idempotence).
            retriable: (error as { retriable?: unknown }).retriable !== false,
            cause: error,
          })
        }
      }
    },
  }
}
