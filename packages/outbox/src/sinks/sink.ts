/**
 * The contract between the relay and a sink. A sink delivers a batch of effects (in outbox order)
 * and answers one outcome per effect:
 *
 * - `done`: delivered (or already there: a sink must treat a repeat as success, since the relay
 *   delivers at least once);
 * - `retry`: not delivered this time for a reason that may pass (a busy or blocked engine): the
 *   effect is tried again after a backoff, for as long as `maxAge` allows;
 * - `rejected`: refused for good (a mapping error, a record the broker refuses): the effect becomes
 *   a dead letter at once; the rest of the queue keeps moving.
 *
 * A sink that throws says "the whole batch could not be delivered" (the engine or broker is
 * unreachable): every effect of the batch is retried and the relay backs off that sink.
 */

/** One effect handed to a sink. */
export interface OutboxDelivery<P = unknown> {
  /** The outbox sequence number: unique, rising in commit-ish order (an identity for consumers). */
  readonly seq: number
  /** The effect's payload as recorded. */
  readonly payload: P
  /** Attempts made before this one. */
  readonly attempts: number
}

/** The outcome of delivering one effect. */
export type DeliveryOutcome =
  | { readonly status: 'done' }
  | { readonly status: 'retry'; readonly error: string }
  | { readonly status: 'rejected'; readonly error: string }

/** What a sink receives with a batch. */
export interface DeliveryContext {
  /** The sink's name in the relay. */
  readonly sink: string
  /** Aborted when the delivery passes `deliveryTimeout` or the relay stops. */
  readonly signal: AbortSignal
}

/** Delivers effects of one kind to one copy (a search engine, a Kafka cluster, a cache). */
export interface OutboxSink<P = unknown> {
  /** Deliver `items`; resolve one outcome per item, in order, or throw to retry them all. */
  deliver(items: readonly OutboxDelivery<P>[], context: DeliveryContext): Promise<readonly DeliveryOutcome[]>
}

/** The `done` outcome (shared, frozen). */
export const DELIVERED: DeliveryOutcome = Object.freeze({ status: 'done' })
