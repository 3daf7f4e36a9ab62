/**
 * Producing events keyed by entity: every event of one entity (an invoice) lands in the same
 * partition, so the consumer applies them in order and a correction always follows the state it
 * corrects.
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
   * log from a second real event.
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
  /** Send events in one request, in order. */
  send(events: readonly E[]): Promise<void>
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
      const messages = events.map((event) => ({ key: key(event), value: JSON.stringify(event) }))
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
    },
  }
}
