/**
 * Every error this package throws is a {@link SearchError} with a stable `code`, so callers
 * branch on codes, never on messages.
 */

/** Stable error codes of `@ayala/search`. */
export type SearchErrorCode = 'E_SEARCH_INVALID_OPTION' | 'E_SEARCH_QUERY_TOO_LONG'

/** Context carried by a {@link SearchError}. */
export interface SearchErrorContext {
  /** The index involved, when there is one. */
  index?: string | undefined
  /** The field involved, when there is one. */
  field?: string | undefined
  /** Whether retrying the same call may succeed. @default false */
  retriable?: boolean | undefined
  /** The underlying error. */
  cause?: unknown
}

/** Base class of every error thrown by `@ayala/search`. */
export class SearchError extends Error {
  override readonly name: string = 'SearchError'
  /** Stable, documented code. */
  readonly code: SearchErrorCode
  /** The index involved, when there is one. */
  readonly index: string | undefined
  /** The field involved, when there is one. */
  readonly field: string | undefined
  /** Whether retrying the same call may succeed. */
  readonly retriable: boolean

  constructor(code: SearchErrorCode, message: string, context: SearchErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause })
    this.code = code
    this.index = context.index
    this.field = context.field
    this.retriable = context.retriable ?? false
  }
}
