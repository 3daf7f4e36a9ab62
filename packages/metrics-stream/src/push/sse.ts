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
 */
import type { ServerResponse } from 'node:http'
import type { Aggregates } from '../aggregates/define.js'
import { type Duration, toMs } from '../duration.js'
import type { Dashboard, ReadParams } from '../read/dashboard.js'

/** Options of {@link streamDashboard}. */
export interface SseOptions {
  /** Read range of bucketed figures. */
  params?: ReadParams | undefined
  /** Interval of keep-alive comments. A number is milliseconds. @default '15s' */
  keepAlive?: Duration | undefined
}

/**
 * Stream a dashboard's updates to `response` as Server-Sent Events until the client disconnects.
 * Resolves when the stream ends.
 */
export async function streamDashboard<A extends Aggregates<any>>(
  dashboard: Dashboard<A>,
  response: ServerResponse,
  options: SseOptions = {},
): Promise<void> {
  const keepAliveMs = toMs(options.keepAlive ?? '15s', 'keepAlive')
  const controller = new AbortController()
  response.once('close', () => controller.abort())
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  })
  response.write(': connected\n\n')
  const timer = setInterval(() => response.write(': keep-alive\n\n'), keepAliveMs)
  timer.unref()
  try {
    for await (const update of dashboard.subscribe(options.params, { signal: controller.signal })) {
      if (update.statusChanged) {
        const { status, generation, epoch, progress, reason } = update
        response.write(
          `event: status\ndata: ${JSON.stringify({ status, generation, epoch, progress, reason })}\n\n`,
        )
      }
      response.write(
        `id: ${update.generation}.${update.version}\nevent: figures\ndata: ${JSON.stringify(update)}\n\n`,
      )
    }
  } finally {
    clearInterval(timer)
    if (!response.writableEnded) response.end()
  }
}
