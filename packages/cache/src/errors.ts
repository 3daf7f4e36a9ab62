/**
 * Every error this package throws is a {@link CacheError} with a stable `code`, so callers
 * branch on codes, never on messages.
 */

/** Stable error codes of `@ayala/cache`. */
export type CacheErrorCode =
  | 'E_CACHE_INVALID_OPTION'
  | 'E_CACHE_INVALID_DURATION'
  | 'E_CACHE_SERIALIZATION'
  | 'E_CACHE_DESERIALIZATION'

/** Context carried by a {@link CacheError}. */
export interface CacheErrorContext {
  /** The cache key involved, when there is one. */
  key?: string | undefined
  /** The tags involved, when there are some. */
  tags?: readonly string[] | undefined
  /** The option that was rejected, for `E_CACHE_INVALID_OPTION`. */
  option?: string | undefined
  /** Whether retrying the same call may succeed. @default false */
  retriable?: boolean | undefined
  /** The underlying error. */
  cause?: unknown
}

/** Base class of every error thrown by `@ayala/cache`. */
export class CacheError extends Error {
  override readonly name: string = 'CacheError'
  /** Stable, documented code. */
  readonly code: CacheErrorCode
  /** The cache key involved, when there is one. */
  readonly key: string | undefined
  /** The tags involved, when there are some. */
  readonly tags: readonly string[] | undefined
  /** The option that was rejected, for `E_CACHE_INVALID_OPTION`. */
  readonly option: string | undefined
  /** Whether retrying the same call may succeed. */
  readonly retriable: boolean

  constructor(code: CacheErrorCode, message: string, context: CacheErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause })
    this.code = code
    this.key = context.key
    this.tags = context.tags
    this.option = context.option
    this.retriable = context.retriable ?? false
  }
}

/** An option given to a factory or a call is invalid; `option` names it. */
export class InvalidOptionError extends CacheError {
  override readonly name = 'InvalidOptionError'
  constructor(option: string, message: string) {
    super('E_CACHE_INVALID_OPTION', `Invalid option "${option}": ${message}`, { option })
  }
}
