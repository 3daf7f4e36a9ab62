/**
 * Which handler calls are streams: a Server-Sent Events route (`@Sse()`), a response sent as
 * `text/event-stream` by hand, or a route named in `streamRoutes` (a long poll). A stream's
 * "duration" is how long the client stayed connected, not how long the server took to answer, so
 * the performance interceptor keeps it out of the latency histogram and the slow-request alerts
 * (one dashboard left open for five seconds would otherwise log "Slow request ... took 4976 ms"
 * and push the route's p99 to the length of a visit).
 *
 * `@Sse()` is read from the handler's metadata (`SSE_METADATA`, `'__sse__'` in Nest 10 to 12; a
 * literal here, so no deep import of `@nestjs/common`), once per handler. A hand-written event
 * stream is recognised by the response's `content-type` when the call ends (Express's and
 * Fastify's responses both have `getHeader`).
 */
import type { ExecutionContext } from '@nestjs/common'

/** `SSE_METADATA` of `@nestjs/common` (set by `@Sse()`). */
const SSE_METADATA = '__sse__'

const sseHandlers = new WeakMap<object, boolean>()

/** Whether the handler of `context` is declared with `@Sse()` (cached per handler). */
export function isSseHandler(context: ExecutionContext): boolean {
  const handler = context.getHandler()
  let sse = sseHandlers.get(handler)
  if (sse === undefined) {
    sse = Reflect.getMetadata(SSE_METADATA, handler) === true
    sseHandlers.set(handler, sse)
  }
  return sse
}

interface ResponseLike {
  getHeader?: (name: string) => unknown
  raw?: { getHeader?: (name: string) => unknown }
}

function header(response: ResponseLike, name: string): unknown {
  if (typeof response.getHeader === 'function') {
    const value = response.getHeader(name)
    if (value !== undefined) return value
  }
  return typeof response.raw?.getHeader === 'function' ? response.raw.getHeader(name) : undefined
}

/** Whether the HTTP response of `context` is being sent as `text/event-stream`. */
export function isEventStreamResponse(context: ExecutionContext): boolean {
  const response = context.switchToHttp().getResponse<ResponseLike | undefined>()
  if (response === undefined || response === null) return false
  const type = header(response, 'content-type')
  return typeof type === 'string' && type.toLowerCase().startsWith('text/event-stream')
}
