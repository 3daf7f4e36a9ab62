/**
 * How an engine or transport failure becomes a {@link SearchError}: the one place that reads the
 * official client's errors (HTTP status, connection failures) and decides the code
 * (`E_SEARCH_AUTH` for 401/403, else `E_SEARCH_ENGINE`) and whether retrying may help (429,
 * 502-504 and link failures). Messages are redacted here: the URL password, credential values
 * and, through the {@link ERROR_CONTEXT} a client's transport tags its errors with, the exact
 * secrets that client holds, so an error raised on any path (the client, `search.raw()` in
 * reconcile, ensureIndex, the outbox) names the user and never the secret.
 */
import { SearchError } from '../errors.js'
import { redactText, redactUrl } from '../redact.js'

/**
 * What a search client attaches (non-enumerable) to every error its transport throws, so that
 * {@link engineError} can name the user and scrub the exact secrets even for calls made through
 * `search.raw()` (reconcile, ensureIndex, the outbox), whose errors never pass through the client.
 */
export const ERROR_CONTEXT: unique symbol = Symbol.for('@ayala/search:error-context') as never

/** See {@link ERROR_CONTEXT}. */
export interface ErrorContext {
  /** Who the client authenticates as: `user "alice"`, `an API key`, `no credentials`. */
  readonly credentials: string
  /** Exact secret strings to scrub from messages (password, key, token, base64 forms). */
  readonly secrets: readonly string[]
}

/** The {@link ErrorContext} a client's transport attached to `error`, if any. */
export function errorContextOf(error: unknown): ErrorContext | undefined {
  return typeof error === 'object' && error !== null
    ? (error as { [ERROR_CONTEXT]?: ErrorContext })[ERROR_CONTEXT]
    : undefined
}

/**
 * Wrap an engine/transport error in a {@link SearchError}: `E_SEARCH_AUTH` for 401/403 (naming
 * the engine URL and the user of the client, never the secret), else `E_SEARCH_ENGINE`. 429,
 * 502-504 and connection errors are marked retriable. The message is redacted (no URL password,
 * no credential value, none of the client's secrets); the cause is the transport's error, whose
 * request headers the official client already shows as `[redacted]`.
 */
export function engineError(error: unknown, index?: string | undefined): SearchError {
  if (error instanceof SearchError) return error
  const context = errorContextOf(error)
  const status = statusOf(error)
  const retriable =
    isTransportFailure(error) || status === 429 || status === 502 || status === 503 || status === 504
  const message = redactText(error instanceof Error ? error.message : String(error), context?.secrets)
  if (status === 401 || status === 403) {
    const where = nodeOf(error)
    const who = context?.credentials ?? 'the client'
    const reason = (error as { body?: { error?: { reason?: unknown } } }).body?.error?.reason
    const detail =
      typeof reason === 'string' ? `${message}: ${redactText(reason, context?.secrets)}` : message
    return new SearchError(
      'E_SEARCH_AUTH',
      `Search engine${where ? ` at ${where}` : ''} ${status === 401 ? 'rejected the credentials of' : 'denied the request of'} ${who} (HTTP ${status}: ${detail})`,
      { index, status, retriable: false, cause: error },
    )
  }
  return new SearchError('E_SEARCH_ENGINE', `Search engine request failed: ${message}`, {
    index,
    status,
    retriable,
    cause: error,
  })
}

/**
 * The reasons the engine gave in an error answer, outermost first: `error.reason`, each
 * `root_cause[].reason` and the `caused_by` chain (a composable template wraps the analysis
 * failure in `caused_by`). Empty for an error without an engine answer.
 */
export function engineReasons(error: unknown): string[] {
  type Cause = { reason?: unknown; root_cause?: unknown; caused_by?: unknown }
  const body = (error as { body?: { error?: Cause } } | undefined)?.body?.error
  const reasons: string[] = []
  const add = (cause: Cause | undefined): void => {
    if (typeof cause?.reason === 'string' && !reasons.includes(cause.reason)) reasons.push(cause.reason)
  }
  let current: Cause | undefined = typeof body === 'object' && body !== null ? body : undefined
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    add(current)
    if (Array.isArray(current.root_cause)) for (const root of current.root_cause) add(root as Cause)
    const next = current.caused_by
    current = typeof next === 'object' && next !== null ? (next as Cause) : undefined
  }
  return reasons
}

const TRANSPORT_ERRORS = new Set([
  'ConnectionError',
  'TimeoutError',
  'NoLivingConnectionsError',
  'RequestAbortedError',
])

/** A failure of the link (no HTTP answer): refused, reset, timed out, aborted. */
export function isTransportFailure(error: unknown): boolean {
  return error instanceof Error && TRANSPORT_ERRORS.has(error.name)
}

function statusOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'meta' in error) {
    const meta = (error as { meta?: { statusCode?: unknown } }).meta
    if (meta && typeof meta.statusCode === 'number' && meta.statusCode > 0) return meta.statusCode
  }
  return undefined
}

interface TransportMeta {
  meta?: { meta?: { connection?: { url?: unknown } } }
}

/** The node a transport error came from, without credentials. */
function nodeOf(error: unknown): string | undefined {
  const url = (error as TransportMeta)?.meta?.meta?.connection?.url
  return url instanceof URL || typeof url === 'string' ? redactUrl(url) : undefined
}
