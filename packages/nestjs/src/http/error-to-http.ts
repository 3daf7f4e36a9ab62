/**
 * One HTTP answer for every typed error of the SDK, so that a dependency failure is never a 500
 * and nothing an operator would not publish reaches the body.
 *
 * Errors are recognised by their stable `code` (`E_CACHE_*`, `E_SEARCH_*`, `E_STREAM_*`,
 * `E_OUTBOX_*`) and `retriable` flag, not by `instanceof`: the root entry must not load
 * `@ayala/search`, `@ayala/metrics-stream` or `@ayala/outbox` (optional peers), and two copies of
 * a package in one application (a hoisting accident) would defeat `instanceof`.
 *
 * - A dependency that cannot answer now (`retriable: true`: cache L2 unavailable or timed out,
 *   the loader past its hard timeout, the dashboard's Redis, the outbox table, Kafka, a sink; or a
 *   closed object during shutdown) is `503` with `Retry-After` (the breaker's next probe when the
 *   error says, else 1 s).
 * - A dependency that refused the application's credentials (`*_AUTH` codes) is `503` too.
 * - Bad input the SDK refused (a dashboard range over 1000 buckets, search text, cursors, fields)
 *   is `400` with the error's message, which names the input, never a server.
 * - Search errors go through {@link searchErrorToHttp} (502 for an engine's own error).
 * - Anything else of the SDK (an invalid option, a serialization bug) is `500`.
 *
 * The body of a 5xx is a fixed text per package with the stable `code`: no message (addresses,
 * users, SQL), no stack trace. Operators read the message in the log.
 */
import type { SearchError } from '@ayala/search'
import { searchErrorToHttp } from '../search/search-error-http.js'

/** The HTTP answer of an SDK error (see {@link ayalaErrorToHttp}). */
export interface AyalaHttpAnswer {
  /** HTTP status: 400, 500, 502 or 503. */
  status: number
  /** Headers to set (`retry-after` on 503, in seconds). */
  headers: Record<string, string>
  /** JSON body in Nest's shape plus the stable `code` and `retriable`. */
  body: { statusCode: number; error: string; message: string; code: string; retriable: boolean }
}

const SDK_CODE = /^E_(CACHE|SEARCH|STREAM|OUTBOX)_[A-Z0-9_]+$/

/** Codes of the SDK that mean "the caller's input is wrong" (400), outside `@ayala/search`. */
const INPUT_CODES = new Set(['E_STREAM_INVALID_READ'])

/** Codes of a closed object: the application is shutting down, another instance can answer. */
const CLOSED_CODES = new Set(['E_CACHE_CLOSED', 'E_STREAM_CLOSED', 'E_OUTBOX_CLOSED'])

/**
 * A dependency refused this application's credentials (`E_CACHE_L2_AUTH`,
 * `E_STREAM_REDIS_AUTH`, `E_STREAM_KAFKA_AUTH`, ...): not retriable by the same caller, but a
 * dependency failure, so 503 like an outage (the operator fixes the secret; the body never says
 * which).
 */
const AUTH_CODE = /_AUTH$/

const UNAVAILABLE_TEXT: Record<string, string> = {
  CACHE: 'The cache is temporarily unavailable',
  STREAM: 'The dashboard is temporarily unavailable',
  OUTBOX: 'The service is temporarily unavailable',
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
}

/** The stable code of an SDK error, or undefined for anything else. */
export function sdkErrorCode(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && SDK_CODE.test(code) ? code : undefined
}

/**
 * The HTTP answer of an SDK error (`@ayala/cache`, `@ayala/search`, `@ayala/metrics-stream`,
 * `@ayala/outbox`), or undefined for any other value (let Nest answer it).
 */
export function ayalaErrorToHttp(error: unknown): AyalaHttpAnswer | undefined {
  const code = sdkErrorCode(error)
  if (code === undefined) return undefined
  const failure = error as Error & { code: string; retriable?: unknown; retryAfterMs?: unknown }
  const retriable = failure.retriable === true
  const family = code.slice(2, code.indexOf('_', 2))
  if (family === 'SEARCH') return searchErrorToHttp(failure as unknown as SearchError)
  let status: number
  let message: string
  if (INPUT_CODES.has(code)) {
    status = 400
    message = failure.message
  } else if (retriable || CLOSED_CODES.has(code) || AUTH_CODE.test(code)) {
    status = 503
    message = UNAVAILABLE_TEXT[family] ?? 'The service is temporarily unavailable'
  } else {
    status = 500
    message = 'Internal server error'
  }
  const headers: Record<string, string> = {}
  if (status === 503) {
    const waitMs = typeof failure.retryAfterMs === 'number' ? failure.retryAfterMs : 0
    headers['retry-after'] = String(Math.max(1, Math.ceil(waitMs / 1_000)))
  }
  return {
    status,
    headers,
    // A closed object is an instance shutting down: retrying (elsewhere) helps.
    body: {
      statusCode: status,
      error: REASONS[status] as string,
      message,
      code,
      retriable: retriable || status === 503,
    },
  }
}
