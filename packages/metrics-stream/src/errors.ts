/**
 * Every error this package throws is a {@link MetricsStreamError} with a stable `code`, so callers
 * branch on codes, never on messages.
 */

/** Stable error codes of `@ayala/metrics-stream`. */
export type MetricsStreamErrorCode = 'E_STREAM_INVALID_OPTION'

/** Context carried by a {@link MetricsStreamError}. */
export interface MetricsStreamErrorContext {
  /** The Kafka topic involved, when there is one. */
  topic?: string | undefined
  /** The partition involved, when there is one. */
  partition?: number | undefined
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
  /** Whether retrying the same call may succeed. */
  readonly retriable: boolean

  constructor(code: MetricsStreamErrorCode, message: string, context: MetricsStreamErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause })
    this.code = code
    this.topic = context.topic
    this.partition = context.partition
    this.retriable = context.retriable ?? false
  }
}
