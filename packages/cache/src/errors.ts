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
  | 'E_CACHE_L2_UNAVAILABLE'
  | 'E_CACHE_L2_TIMEOUT'
  | 'E_CACHE_CIRCUIT_OPEN'
  | 'E_CACHE_L2_RECOVERING'
  | 'E_CACHE_L2_AUTH'
  | 'E_CACHE_LOADER_TIMEOUT'
  | 'E_CACHE_CLOSED'
  | 'E_CACHE_NOT_BOUND'
  | 'E_CACHE_CORRUPT_ENTRY'

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

/**
 * Redis did not answer in time (`redisTimeout`), refused the command, or the circuit breaker is
 * open; `E_CACHE_L2_RECOVERING` while the instance bypasses Redis until its pending invalidations
 * are replayed (see docs/cache-recovery.md); `E_CACHE_L2_AUTH` when Redis refused the
 * connection's credentials or denied its ACL user a command (the message names the server and
 * the user, never the password; not retriable: the same call fails the same way until the
 * credentials or the ACL change). Reads and writes never throw it (they fall back to L1 and the
 * loader, and emit an `ayala:cache:error` event). Invalidations reject with it only with
 * `onL2Unavailable: 'reject'`, after applying locally and queueing the replay.
 */
export class L2UnavailableError extends CacheError {
  override readonly name = 'L2UnavailableError'
  constructor(
    code:
      | 'E_CACHE_L2_UNAVAILABLE'
      | 'E_CACHE_L2_TIMEOUT'
      | 'E_CACHE_CIRCUIT_OPEN'
      | 'E_CACHE_L2_RECOVERING'
      | 'E_CACHE_L2_AUTH',
    message: string,
    cause?: unknown,
  ) {
    super(code, message, { retriable: code !== 'E_CACHE_L2_AUTH', cause })
  }
}

/** The loader ran past `hardTimeout` and no stale value could be served. */
export class LoaderTimeoutError extends CacheError {
  override readonly name = 'LoaderTimeoutError'
  constructor(key: string, timeoutMs: number) {
    super(
      'E_CACHE_LOADER_TIMEOUT',
      `Loader for key ${JSON.stringify(key)} exceeded its hard timeout of ${timeoutMs} ms`,
      {
        key,
        retriable: true,
      },
    )
  }
}

/** The cache was used after `close()`. */
export class CacheClosedError extends CacheError {
  override readonly name = 'CacheClosedError'
  constructor() {
    super('E_CACHE_CLOSED', 'The cache is closed')
  }
}

/** A decorated method ran on an instance with no cache bound (see `bindCache`, `setDefaultCache`). */
export class CacheNotBoundError extends CacheError {
  override readonly name = 'CacheNotBoundError'
  constructor(method: string) {
    super(
      'E_CACHE_NOT_BOUND',
      `No cache is bound for ${method}: pass \`cache\` to the decorator, call bindCache(instance, cache), or setDefaultCache(cache)`,
    )
  }
}
