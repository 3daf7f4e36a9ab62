/**
 * Fallbacks of the interactive reads: when `search` or `get` fails because the engine is
 * unavailable (`E_SEARCH_UNAVAILABLE`) or refuses the credentials (`E_SEARCH_AUTH`), the call's
 * `fallback` (else the client's) answers instead and the result carries `degraded` (why, with
 * the error's code and message). Other failures (a bad query, a 404 index) are not the fallback's
 * business and reject as they are. A fallback that fails too is counted and emitted
 * (`fallback-error`), and the read rejects with the engine's error, both causes kept.
 */
import type { ClientState } from '../engine/client-state.js'
import { SearchError, SearchUnavailableError } from '../errors.js'
import type { SearchDegradation } from '../query/types.js'
import { redactText } from '../redact.js'

function isFallbackError(error: unknown): error is SearchError {
  return (
    error instanceof SearchError && (error.code === 'E_SEARCH_UNAVAILABLE' || error.code === 'E_SEARCH_AUTH')
  )
}

/** What a degraded result says about the failure it stands in for. */
export function degradation(error: SearchError): SearchDegradation {
  return {
    reason: error instanceof SearchUnavailableError ? error.reason : 'auth',
    code: error.code as SearchDegradation['code'],
    message: error.message,
  }
}

/** Answer a failed read from `fallback` when it applies; otherwise (or when it fails) reject. */
export async function fallBack<T>(
  state: ClientState,
  operation: 'search' | 'get',
  index: string,
  error: unknown,
  fallback: ((error: SearchError) => T | Promise<T>) | undefined,
): Promise<T> {
  if (fallback === undefined || !isFallbackError(error)) throw error
  try {
    const answer = await fallback(error)
    state.reads.fallbacks++
    return answer
  } catch (fallbackError) {
    state.reads.fallbackFailures++
    if (state.events.listenerCount('fallback-error') > 0)
      state.events.emit('fallback-error', { operation, index, error: fallbackError })
    const Failure = error instanceof SearchUnavailableError ? SearchUnavailableError : SearchError
    const message = `${error.message}; the fallback failed too: ${redactText(fallbackError instanceof Error ? fallbackError.message : String(fallbackError))}`
    throw Failure === SearchUnavailableError
      ? new SearchUnavailableError(message, {
          index,
          operation,
          budgetMs: (error as SearchUnavailableError).budgetMs,
          reason: (error as SearchUnavailableError).reason,
          retryAfterMs: (error as SearchUnavailableError).retryAfterMs,
          status: error.status,
          cause: new AggregateError([error, fallbackError]),
        })
      : new SearchError(error.code, message, {
          index,
          status: error.status,
          retriable: error.retriable,
          cause: new AggregateError([error, fallbackError]),
        })
  }
}
