/**
 * Every error this package throws is an {@link OutboxError} with a stable `code`, so callers
 * branch on codes, never on messages.
 */

/**
 * Stable error codes of `@ayala/outbox`.
 *
 * - `E_OUTBOX_INVALID_OPTION`: an option passed to a factory or call is invalid (unknown keys are
 *   named).
 * - `E_OUTBOX_INVALID_EFFECT`: an effect handed to `enqueue` is malformed; nothing was recorded.
 * - `E_OUTBOX_UNKNOWN_SINK`: a recorded effect names a sink the relay was not given.
 * - `E_OUTBOX_SQL`: the outbox table could not be read or written (retriable: the database may
 *   come back). When thrown by `enqueue`, the caller's transaction must roll back.
 * - `E_OUTBOX_SINK`: a sink could not deliver (retriable: the relay keeps trying until `maxAge`).
 * - `E_OUTBOX_REJECTED`: a sink refused an effect for good (a mapping error, a record the broker
 *   refuses): the effect is kept as a dead letter.
 * - `E_OUTBOX_TIMEOUT`: a delivery took longer than `deliveryTimeout`.
 * - `E_OUTBOX_CLOSED`: the relay was stopped.
 */
export type OutboxErrorCode =
  | 'E_OUTBOX_INVALID_OPTION'
  | 'E_OUTBOX_INVALID_EFFECT'
  | 'E_OUTBOX_UNKNOWN_SINK'
  | 'E_OUTBOX_SQL'
  | 'E_OUTBOX_SINK'
  | 'E_OUTBOX_REJECTED'
  | 'E_OUTBOX_TIMEOUT'
  | 'E_OUTBOX_CLOSED'

/** Context carried by an {@link OutboxError}. */
export interface OutboxErrorContext {
  /** The sink involved, when there is one. */
  sink?: string | undefined
  /** The outbox sequence number involved, when there is one. */
  seq?: number | undefined
  /** Whether retrying may succeed. @default false */
  retriable?: boolean | undefined
  /** The underlying error. */
  cause?: unknown
}

/** Base class of every error thrown by `@ayala/outbox`. */
export class OutboxError extends Error {
  override readonly name: string = 'OutboxError'
  /** Stable, documented code. */
  readonly code: OutboxErrorCode
  /** The sink involved, when there is one. */
  readonly sink: string | undefined
  /** The outbox sequence number involved, when there is one. */
  readonly seq: number | undefined
  /** Whether retrying may succeed. */
  readonly retriable: boolean

  constructor(code: OutboxErrorCode, message: string, context: OutboxErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause })
    this.code = code
    this.sink = context.sink
    this.seq = context.seq
    this.retriable = context.retriable ?? false
  }
}

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]*)@/gi

/** Free text with every `scheme://user:password@` reduced to `scheme://user:***@`. */
export function redactText(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1$2:***@')
}

/**
 * A short, single-line description of any thrown value (for `last_error`, which is stored in the
 * outbox table, `stats().lastError` and events), with URL credentials redacted: a sink's or a
 * driver's error that quotes a connection URL never writes its password into a row.
 */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    const prefix = typeof code === 'string' ? `${code} ` : ''
    return redactText(`${prefix}${error.name}: ${error.message}`.replace(/\s+/g, ' ')).slice(0, 2_000)
  }
  return redactText(String(error)).slice(0, 2_000)
}
