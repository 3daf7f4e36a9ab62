/**
 * HTTP answers for `@ayala/search` errors: a dependency failure is never a 500. The engine being
 * unavailable (`E_SEARCH_UNAVAILABLE`: timed out, refused, overloaded, breaker open) or refusing
 * the service's credentials (`E_SEARCH_AUTH`) is a 503 with `Retry-After`; an engine that
 * answered with an error is a 502 (503 when it says retrying may help); bad user input reaching a
 * query helper (over-long text, wrong value type, unknown field, foreign cursor) is a 400 with the
 * error's message. The body of a 5xx carries the code and a fixed text, never the engine's
 * message (addresses, users: operators read those in the log, where the filter writes them).
 *
 * {@link searchErrorToHttp} is the mapping alone, for a shared filter of several packages;
 * {@link SearchErrorFilter} is a small Nest filter over it:
 * `@UseFilters(SearchErrorFilter)` on a controller, or `app.useGlobalFilters(new
 * SearchErrorFilter(app.get(HttpAdapterHost)))`.
 */
import { SearchError, SearchUnavailableError } from '@ayala/search'
import { type ArgumentsHost, Catch, type ExceptionFilter, Inject, Logger } from '@nestjs/common'
import { HttpAdapterHost } from '@nestjs/core'

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
    const waitMs = error instanceof SearchUnavailableError ? error.retryAfterMs : 0
    headers['retry-after'] = String(Math.max(1, Math.ceil(waitMs / 1_000)))
  }
  return {
    status,
    headers,
    body: { statusCode: status, error: REASONS[status] as string, message, code, retriable: error.retriable },
  }
}

/**
 * Nest exception filter answering `@ayala/search` errors over HTTP with
 * {@link searchErrorToHttp} (other contexts get the error back unchanged). 5xx answers are logged
 * with the error's code and (redacted) message.
 */
@Catch(SearchError)
export class SearchErrorFilter implements ExceptionFilter<SearchError> {
  private readonly logger = new Logger('SearchErrorFilter')

  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  catch(error: SearchError, host: ArgumentsHost): unknown {
    if (host.getType() !== 'http') return error
    const answer = searchErrorToHttp(error)
    if (answer.status >= 500) this.logger.warn(`${answer.status} for ${error.code}: ${error.message}`)
    const adapter = this.adapterHost.httpAdapter
    const response = host.switchToHttp().getResponse()
    for (const [name, value] of Object.entries(answer.headers)) adapter.setHeader(response, name, value)
    adapter.reply(response, answer.body, answer.status)
    return undefined
  }
}
