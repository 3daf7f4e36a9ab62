/**
 * Server-Sent Events over a Node `ServerResponse`: every dashboard update is one `figures` event
 * whose `id` is `<generation>.<version>`; a comment line keeps proxies from closing an idle stream.
 * A browser's `EventSource` reconnects by itself, and since each event is a full snapshot, a
 * reconnected client is in sync with its first event.
 *
 * When the view's status changes (a rebuild starts after Redis lost the state, it completes, the
 * topic turns out truncated), a `status` event (`{ status, generation, epoch, progress, reason }`)
 * comes before the `figures` event; the `figures` event after a rebuild completed has
 * `resync: true`. Every `figures` event carries `status` too: only `live` figures are complete.
 *
 * Redis unavailable: the update is the last snapshot marked `stale: true` (with `ageMs` and
 * `staleReason`), preceded by a `status` event saying so, and the stream stays open; the first
 * fresh snapshot afterwards comes with a `status` event and `resync: true`. When no snapshot can
 * be served (none held, or older than `staleIfError`), a stream that has not started answers
 * `503` with `Retry-After` and a JSON body instead of opening, and an open one ends with a
 * `status` event `{ status: 'unavailable', stale: true, code, staleReason, retryAfterMs }` and a
 * `retry:` field (the browser's `EventSource` reconnects after it).
 */
import type { ServerResponse } from 'node:http'
import type { OptionRename } from '@ayala/internal'
import type { Aggregates } from '../aggregates/define.js'
import { type Duration, toMs } from '../duration.js'
import { MetricsStreamError, StreamUnavailableError } from '../errors.js'
import { checkOptionKeys, renamed } from '../option-keys.js'
import type { Dashboard } from '../read/dashboard.js'
import type { DashboardUpdate, ReadParams } from '../read/snapshot.js'

/** Options of {@link streamDashboard}. */
export interface SseOptions {
  /** Read range of bucketed figures. */
  params?: ReadParams | undefined
  /** Interval of keep-alive comments (a positive duration). A number is milliseconds. @default '15s' */
  keepAliveInterval?: Duration | undefined
  /** @deprecated Renamed `keepAliveInterval` (a periodic action); the old name warns once per process. */
  keepAlive?: Duration | undefined
}

/** Defaults of {@link SseOptions}. */
export const DEFAULT_SSE_OPTIONS = Object.freeze({
  keepAliveInterval: '15s' as Duration,
})

const SSE_OPTION_KEYS: ReadonlySet<string> = new Set(['params', 'keepAliveInterval', 'keepAlive'])
const KEEP_ALIVE: OptionRename = {
  from: 'keepAlive',
  to: 'keepAliveInterval',
  code: 'AYALA_STREAM_KEEPALIVE',
}

/**
 * The data of a `status` event: the view's status and whether the figures are stale, as in the
 * snapshot that follows it.
 */
export function statusOf(update: DashboardUpdate<any>): {
  status: DashboardUpdate<any>['status']
  stale: boolean
  ageMs: number
  staleReason: DashboardUpdate<any>['staleReason']
  generation: number
  epoch: string
  progress: DashboardUpdate<any>['progress']
  reason: DashboardUpdate<any>['reason']
} {
  const { status, stale, ageMs, staleReason, generation, epoch, progress, reason } = update
  return { status, stale, ageMs, staleReason, generation, epoch, progress, reason }
}

/**
 * The data of the last `status` event of a stream that cannot go on: Redis cannot answer and no
 * snapshot can be served.
 */
export function unavailableStatus(error: StreamUnavailableError): {
  status: 'unavailable'
  stale: true
  code: 'E_STREAM_UNAVAILABLE'
  staleReason: StreamUnavailableError['reason']
  retryAfterMs: number
} {
  return {
    status: 'unavailable',
    stale: true,
    code: 'E_STREAM_UNAVAILABLE',
    staleReason: error.reason,
    retryAfterMs: error.retryAfterMs,
  }
}

/** Milliseconds an `EventSource` should wait before reconnecting after `error`. */
function retryMs(error: StreamUnavailableError): number {
  return Math.max(1_000, Math.ceil(error.retryAfterMs))
}

/**
 * Stream a dashboard's updates to `response` as Server-Sent Events until the client disconnects.
 * Resolves when the stream ends.
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` for an unknown or invalid option (before
 * anything is written to `response`)
 */
export async function streamDashboard<A extends Aggregates<any>>(
  dashboard: Dashboard<A>,
  response: ServerResponse,
  options: SseOptions = {},
): Promise<void> {
  checkOptionKeys(options, SSE_OPTION_KEYS, 'streamDashboard')
  const keepAliveMs = toMs(
    renamed<Duration>(options, KEEP_ALIVE, 'streamDashboard') ?? DEFAULT_SSE_OPTIONS.keepAliveInterval,
    'keepAliveInterval',
  )
  if (!(keepAliveMs > 0)) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', 'keepAliveInterval must be a positive duration')
  }
  const controller = new AbortController()
  response.once('close', () => controller.abort())
  const updates = dashboard.subscribe(options.params, { signal: controller.signal })
  // The first snapshot is read before the stream opens, so that a dashboard with nothing to show
  // (Redis unavailable, no snapshot held) answers a plain 503 instead of an empty stream.
  let first: IteratorResult<DashboardUpdate<A>>
  try {
    first = await updates.next()
  } catch (error) {
    if (!(error instanceof StreamUnavailableError) || response.headersSent) throw error
    const body = JSON.stringify({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'The dashboard is temporarily unavailable',
      code: error.code,
      retriable: true,
    })
    response.writeHead(503, {
      'content-type': 'application/json; charset=utf-8',
      'retry-after': String(Math.ceil(retryMs(error) / 1_000)),
    })
    response.end(body)
    return
  }
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  response.write(': connected\n\n')
  const timer = setInterval(() => response.write(': keep-alive\n\n'), keepAliveMs)
  timer.unref()
  const send = (update: DashboardUpdate<A>) => {
    if (update.statusChanged) response.write(`event: status\ndata: ${JSON.stringify(statusOf(update))}\n\n`)
    response.write(
      `id: ${update.generation}.${update.version}\nevent: figures\ndata: ${JSON.stringify(update)}\n\n`,
    )
  }
  try {
    if (!first.done) send(first.value)
    for (;;) {
      const next = await updates.next()
      if (next.done) break
      send(next.value)
    }
  } catch (error) {
    if (!(error instanceof StreamUnavailableError)) throw error
    response.write(
      `retry: ${retryMs(error)}\nevent: status\ndata: ${JSON.stringify(unavailableStatus(error))}\n\n`,
    )
  } finally {
    clearInterval(timer)
    await updates.return(undefined)
    if (!response.writableEnded) response.end()
  }
}
