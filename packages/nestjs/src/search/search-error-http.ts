/**
 * The HTTP answer of an `@ayala/search` error, as a pure function with no value import of
 * `@ayala/search` (types only), so that the root entry's `AyalaErrorFilter` can use it without
 * the package installed. `SearchErrorFilter` (search-error.filter.ts) and `AyalaErrorFilter`
 * (http/ayala-error.filter.ts) both answer through it: one mapping of search errors.
 */
import type { SearchError } from '@ayala/search'

/** The HTTP answer of a search error (see {@link searchErrorToHttp}). */
export interface SearchHttpAnswer {
  /** HTTP status: 400, 502, 503 or 500. */
  status: number
  /** Headers to set (`Retry-After` on 503, in seconds). */
  headers: Record<string, string>
  /** JSON body in Nest's shape plus the stable `code`. */
  body: { statusCode: number; error: string; message: string; code: string; retriable: boolean }
}

const INPUT_ERRORS = new Set([
  'E_SEARCH_QUERY_TOO_LONG',
  'E_SEARCH_INVALID_VALUE',
  'E_SEARCH_INVALID_CURSOR',
  'E_SEARCH_UNKNOWN_FIELD',
  'E_SEARCH_FIELD_KIND',
])

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
}

/**
 * Map a search error to its HTTP answer: 503 (with `Retry-After`) for `E_SEARCH_UNAVAILABLE`,
 * `E_SEARCH_AUTH` and retriable engine/outbox errors; 502 for other engine errors; 400 for user
 * input; 500 for the rest (options, bulk, reindex, reconcile: programming or operations errors).
 */
export function searchErrorToHttp(error: SearchError): SearchHttpAnswer {
  let status: number
  let message: string
  const code = error.code
  if (INPUT_ERRORS.has(code)) {
    status = 400
    message = error.message
  } else if (code === 'E_SEARCH_UNAVAILABLE' || code === 'E_SEARCH_AUTH') {
    status = 503
    message = 'Search is temporarily unavailable'
  } else if (code === 'E_SEARCH_ENGINE' || code === 'E_SEARCH_OUTBOX') {
    status = error.retriable ? 503 : 502
    message = status === 503 ? 'Search is temporarily unavailable' : 'The search engine failed to answer'
  } else {
    status = 500
    message = 'Internal server error'
  }
  const headers: Record<string, string> = {}
  if (status === 503) {
    // `SearchUnavailableError.retryAfterMs`, read without importing the class: this module is
    // loaded by the root entry's `AyalaErrorFilter`, which must not need `@ayala/search` installed.
    const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs
    const waitMs =
      error.code === 'E_SEARCH_UNAVAILABLE' && typeof retryAfterMs === 'number' ? retryAfterMs : 0
    headers['retry-after'] = String(Math.max(1, Math.ceil(waitMs / 1_000)))
  }
  return {
    status,
    headers,
    body: { statusCode: status, error: REASONS[status] as string, message, code, retriable: error.retriable },
  }
}
