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
import { SearchError } from '@ayala/search'
import { type ArgumentsHost, Catch, type ExceptionFilter, Inject, Logger } from '@nestjs/common'
import { HttpAdapterHost } from '@nestjs/core'
import { searchErrorToHttp } from './search-error-http.js'

export type { SearchHttpAnswer } from './search-error-http.js'
export { searchErrorToHttp } from './search-error-http.js'

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
