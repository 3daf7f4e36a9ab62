/**
 * Every error this package throws is a {@link MetricsStreamError} with a stable `code`, so callers
 * branch on codes, never on messages.
 */

/**
 * Stable error codes of `@ayala/metrics-stream`.
 *
 * - `E_STREAM_INVALID_OPTION`: an option or a definition is invalid (thrown once, at creation).
 * - `E_STREAM_INVALID_EVENT`: a message could not be decoded or failed the view's validator; the
 *   consumer dead-letters it, it is never thrown out of the consumer.
 * - `E_STREAM_INVALID_ENTITY`: an entity-mode view's `entity` function returned a bad key,
 *   version or row (`undefined`); the consumer dead-letters the record, as for a failing decoder.
 * - `E_STREAM_STATE_CORRUPT`: what Redis holds for the view cannot be decoded (an entity's stored
 *   contribution); not retried.
 * - `E_STREAM_INVALID_READ`: read parameters are invalid (e.g. a bucket range too wide).
 * - `E_STREAM_REDIS`: a Redis call failed; retriable.
 * - `E_STREAM_REDIS_AUTH`: Redis refused the connection's credentials (`WRONGPASS`, `NOAUTH`) or
 *   denied its ACL user a command (`NOPERM`); the message names the server and the user, never
 *   the password; not retriable until the credentials or the ACL change.
 * - `E_STREAM_UNAVAILABLE`: a dashboard read could not be answered within its deadline (Redis
 *   hung, refused or closed the connection, or the read breaker is open) and no snapshot of the
 *   range was held to answer stale; always retriable. A {@link StreamUnavailableError} with
 *   `reason` and `retryAfterMs`; map it to HTTP 503.
 * - `E_STREAM_KAFKA`: a Kafka call (dead-letter or late produce, admin) failed; retriable.
 * - `E_STREAM_KAFKA_AUTH`: the broker refused the SASL login (wrong user, password or
 *   mechanism); not retriable until the credentials change. The message carries kafkajs's reason,
 *   never the password.
 * - `E_STREAM_UNDECODABLE`: the source fetched a record batch it cannot decode (a compression
 *   codec that fails, corrupt bytes); reported by the consumer (`sourceError` event, `stats()`,
 *   `sourceErrors()`), never thrown out of it.
 * - `E_STREAM_TOPIC_MISMATCH`: `ensureViewTopics` found a topic that exists with fewer partitions
 *   or replicas than asked, or another value of a setting the caller gave (`retention.ms`,
 *   `min.insync.replicas`); a {@link TopicMismatchError} listing each difference. Nothing is
 *   changed on the topic; not retriable.
 * - `E_STREAM_CLOSED`: the object was closed.
 * - `E_STREAM_NOT_CAUGHT_UP`: a rebuild generation was promoted before it caught up.
 *
 * Health reasons (`consumer.health()`, `dashboard.health()`, `DashboardSnapshot.reason`), never
 * thrown:
 *
 * - `E_STREAM_REBUILDING`: the view is being rebuilt from the topic (after Redis lost its state,
 *   or at the first start over a topic with history); figures partial; degraded.
 * - `E_STREAM_STATE_MISSING`: Redis holds no state for the view (lost, no consumer running yet);
 *   down.
 * - `E_STREAM_LOG_TRUNCATED`: the topic no longer holds events the figures need (retention or
 *   `deleteRecords` removed records a replay or the consumer had not applied); down.
 * - `E_STREAM_LOG_COMPACTED`: a delta-mode view was replayed from a compacted topic, which keeps
 *   only each key's latest record; down (entity-mode views rebuild completely from it).
 * - `E_STREAM_REDIS_BEHIND`: Redis holds less of a partition than the consumer had applied (a
 *   failover promoted a replica that had not received the last apply scripts): the consumer went
 *   back to Redis's offset and re-applies the records after it from Kafka; figures late, never
 *   counted twice or skipped; degraded, per partition, until it is where it had been.
 */
export type MetricsStreamErrorCode =
  | 'E_STREAM_INVALID_OPTION'
  | 'E_STREAM_INVALID_EVENT'
  | 'E_STREAM_INVALID_ENTITY'
  | 'E_STREAM_STATE_CORRUPT'
  | 'E_STREAM_INVALID_READ'
  | 'E_STREAM_REDIS'
  | 'E_STREAM_REDIS_AUTH'
  | 'E_STREAM_UNAVAILABLE'
  | 'E_STREAM_KAFKA'
  | 'E_STREAM_KAFKA_AUTH'
  | 'E_STREAM_UNDECODABLE'
  | 'E_STREAM_TOPIC_MISMATCH'
  | 'E_STREAM_CLOSED'
  | 'E_STREAM_NOT_CAUGHT_UP'
  | 'E_STREAM_REBUILDING'
  | 'E_STREAM_STATE_MISSING'
  | 'E_STREAM_LOG_TRUNCATED'
  | 'E_STREAM_LOG_COMPACTED'
  | 'E_STREAM_REDIS_BEHIND'

/** Context carried by a {@link MetricsStreamError}. */
export interface MetricsStreamErrorContext {
  /** The Kafka topic involved, when there is one. */
  topic?: string | undefined
  /** The partition involved, when there is one. */
  partition?: number | undefined
  /** The Kafka offset involved, when there is one. */
  offset?: string | undefined
  /** The view involved, when there is one. */
  view?: string | undefined
  /** Whether retrying the same call may succeed. @default false */
  retriable?: boolean | undefined
  /** The underlying error. */
  cause?: unknown
}

/** Base class of every error thrown by `@ayala/metrics-stream`. */
export class MetricsStreamError extends Error {
  override readonly name: string = 'MetricsStreamError'
  /** Stable, documented code. */
  readonly code: MetricsStreamErrorCode
  /** The Kafka topic involved, when there is one. */
  readonly topic: string | undefined
  /** The partition involved, when there is one. */
  readonly partition: number | undefined
  /** The Kafka offset involved, when there is one. */
  readonly offset: string | undefined
  /** The view involved, when there is one. */
  readonly view: string | undefined
  /** Whether retrying the same call may succeed. */
  readonly retriable: boolean

  constructor(code: MetricsStreamErrorCode, message: string, context: MetricsStreamErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause })
    this.code = code
    this.topic = context.topic
    this.partition = context.partition
    this.offset = context.offset
    this.view = context.view
    this.retriable = context.retriable ?? false
  }
}

/**
 * Why a dashboard read could not reach Redis: `timeout` (no answer within the read's deadline: a
 * hung or overloaded server, a blackholed link), `connection` (refused, reset or closed, or the
 * client is reconnecting), `circuit-open` (refused at once by the read breaker after consecutive
 * failures: no command sent).
 */
export type StreamUnavailableReason = 'timeout' | 'connection' | 'circuit-open'

/**
 * A dashboard read could not be answered within its deadline and no snapshot of the range could
 * be served stale (`E_STREAM_UNAVAILABLE`, always `retriable`). Map it to HTTP 503 with
 * `Retry-After: ceil(retryAfterMs / 1000)` (at least 1).
 */
export class StreamUnavailableError extends MetricsStreamError {
  override readonly name: string = 'StreamUnavailableError'
  /** Why Redis could not answer. */
  readonly reason: StreamUnavailableReason
  /** The read's deadline, in ms. */
  readonly timeoutMs: number
  /** Ms until the open breaker lets a probe through (0 unless `reason` is `circuit-open`). */
  readonly retryAfterMs: number

  constructor(
    message: string,
    context: {
      view: string
      reason: StreamUnavailableReason
      timeoutMs: number
      retryAfterMs?: number | undefined
      cause?: unknown
    },
  ) {
    super('E_STREAM_UNAVAILABLE', message, { view: context.view, retriable: true, cause: context.cause })
    this.reason = context.reason
    this.timeoutMs = context.timeoutMs
    this.retryAfterMs = context.retryAfterMs ?? 0
  }
}

/** One setting of an existing topic that differs from what `ensureViewTopics` was asked for. */
export interface TopicMismatch {
  /** The topic. */
  readonly topic: string
  /** `partitions`, `replicationFactor`, or the Kafka config name (`retention.ms`, `min.insync.replicas`). */
  readonly setting: string
  /** What was asked (partitions and replicas: the least accepted). */
  readonly expected: string
  /** What the topic has. */
  readonly actual: string
}

/**
 * `ensureViewTopics` found topics that exist with other settings than asked
 * (`E_STREAM_TOPIC_MISMATCH`, not retriable): fewer partitions or replicas, or another value of a
 * config the caller gave. The helper changes nothing on an existing topic; `mismatches` lists
 * every difference, `topic` is the first one's.
 */
export class TopicMismatchError extends MetricsStreamError {
  override readonly name: string = 'TopicMismatchError'
  /** Every difference found, in the order of the topics (input, dead-letter, late). */
  readonly mismatches: readonly TopicMismatch[]

  constructor(message: string, mismatches: readonly TopicMismatch[]) {
    super('E_STREAM_TOPIC_MISMATCH', message, { topic: mismatches[0]?.topic })
    this.mismatches = Object.freeze([...mismatches])
  }
}
