/**
 * `AyalaErrorFilter`: one global Nest exception filter for the SDK's typed errors, answered with
 * {@link ayalaErrorToHttp} (503 with `Retry-After` for a dependency that cannot answer, 400 for
 * input the SDK refused, a fixed text and the stable `code` in every 5xx body). Every other
 * exception (an `HttpException`, an error of the application) goes to Nest's own
 * `BaseExceptionFilter`, unchanged: a 500 there carries no message and no stack either.
 *
 * ```ts
 * // app.module.ts
 * providers: [{ provide: APP_FILTER, useClass: AyalaErrorFilter }]
 * // or, in bootstrap: app.useGlobalFilters(new AyalaErrorFilter(app.get(HttpAdapterHost).httpAdapter))
 * ```
 *
 * A controller's own filter (e.g. `@UseFilters(SearchErrorFilter)`) still wins for its routes.
 * Outside HTTP the filter leaves SDK errors to the transport: GraphQL gets the error back, a
 * microservice handler an error Observable.
 */

import { redactText } from '@ayala/internal'
import { type ArgumentsHost, Catch, Logger } from '@nestjs/common'
import { BaseExceptionFilter } from '@nestjs/core'
import { throwError } from 'rxjs'
import { ayalaErrorToHttp, sdkErrorCode } from './error-to-http.js'

/** See the module note. */
@Catch()
export class AyalaErrorFilter extends BaseExceptionFilter {
  private readonly ayalaLogger = new Logger('AyalaErrorFilter')

  override catch(exception: unknown, host: ArgumentsHost): unknown {
    const type = host.getType<string>()
    if (type !== 'http') {
      if (sdkErrorCode(exception) === undefined) return super.catch(exception, host)
      return type === 'rpc' ? throwError(() => exception) : exception
    }
    const answer = ayalaErrorToHttp(exception)
    if (answer === undefined) return super.catch(exception, host)
    if (answer.status >= 500) {
      // The SDK's messages hold no secret; a URL password quoted by a driver is redacted anyway.
      this.ayalaLogger.warn(
        `${answer.status} for ${answer.body.code}: ${redactText((exception as Error).message)}`,
      )
    }
    const adapter = this.httpAdapterHost?.httpAdapter ?? this.applicationRef
    const response = host.switchToHttp().getResponse()
    if (adapter === undefined) throw exception
    for (const [name, value] of Object.entries(answer.headers)) adapter.setHeader(response, name, value)
    adapter.reply(response, answer.body, answer.status)
    return undefined
  }
}
