/**
 * Push of dashboard updates to HTTP clients, the Nest way (`@Sse()` with an Observable) or onto
 * a raw response (`streamDashboard` of `@ayala/metrics-stream`).
 *
 * Open streams are tracked so that shutdown can end them in `beforeApplicationShutdown`: an SSE
 * connection never ends by itself, and the HTTP server's close waits for every connection.
 *
 * Redis unavailable: the dashboard answers its last snapshot marked `stale` (a `status` event
 * says so first), and the stream stays open until Redis answers again (a `status` event, then a
 * `resync` snapshot). When it holds no snapshot to show, the stream ends with a `status` event
 * `{ status: 'unavailable', stale: true, code: 'E_STREAM_UNAVAILABLE', staleReason, retryAfterMs }`
 * carrying `retry` (the browser's `EventSource` reconnects after it), instead of an `error` event.
 */
import type { ServerResponse } from 'node:http'
import {
  type Dashboard,
  type ReadParams,
  type SseOptions,
  StreamUnavailableError,
  statusOf,
  streamDashboard,
  unavailableStatus,
} from '@ayala/metrics-stream'
import { Observable } from 'rxjs'

/**
 * What `@Sse()` handlers return: Nest writes `id`, `type` and `data` as an SSE event. A `status`
 * event (no `id`) comes before the `figures` event whenever the view's status changes: a rebuild
 * started (Redis lost the view's state), completed (the next `figures` has `resync: true`), or
 * the topic turned out not to hold the events the figures need.
 */
export interface DashboardMessageEvent {
  /** `<generation>.<version>` (figures events). */
  id?: string | undefined
  /** `figures`, or `status` when the view's status (or whether the figures are stale) changed. */
  type: 'figures' | 'status'
  /**
   * figures: the snapshot `{ version, generation, figures, status, epoch, progress, reason,
   * stale, ageMs, staleReason, resync, statusChanged }`; status: `{ status, stale, ageMs,
   * staleReason, generation, epoch, progress, reason }`, or the last event of a stream that cannot
   * go on: `{ status: 'unavailable', stale: true, code, staleReason, retryAfterMs }`.
   */
  data: unknown
  /** On the last `status` event of an unavailable stream: ms the client should wait before reconnecting. */
  retry?: number | undefined
}

/** Server-Sent Events of one dashboard. Injectable as `DashboardStream`. */
export class DashboardStream {
  private readonly open = new Set<AbortController>()

  constructor(private readonly dashboard: Dashboard<any>) {}

  /** Number of streams open now. */
  get size(): number {
    return this.open.size
  }

  /**
   * An Observable of the dashboard's updates for an `@Sse()` handler; unsubscribing (the client
   * went away) stops the subscription.
   *
   * ```ts
   * @Sse('dashboard/stream') stream() { return this.streams.observe() }
   * ```
   */
  observe(params?: ReadParams): Observable<DashboardMessageEvent> {
    return new Observable<DashboardMessageEvent>((subscriber) => {
      const controller = new AbortController()
      this.open.add(controller)
      const run = async () => {
        try {
          for await (const update of this.dashboard.subscribe(params, { signal: controller.signal })) {
            if (update.statusChanged) subscriber.next({ type: 'status', data: statusOf(update) })
            subscriber.next({ id: `${update.generation}.${update.version}`, type: 'figures', data: update })
          }
        } catch (error) {
          if (!(error instanceof StreamUnavailableError)) throw error
          subscriber.next({
            type: 'status',
            data: unavailableStatus(error),
            retry: Math.max(1_000, Math.ceil(error.retryAfterMs)),
          })
        }
        subscriber.complete()
      }
      run()
        .catch((error: unknown) => subscriber.error(error))
        .finally(() => this.open.delete(controller))
      return () => controller.abort()
    })
  }

  /**
   * Stream onto a raw response (Express's `res`, or Fastify's `reply.raw`) with
   * `streamDashboard`; resolves when the stream ends.
   */
  async stream(response: ServerResponse | { raw: ServerResponse }, options: SseOptions = {}): Promise<void> {
    const raw = 'raw' in response ? response.raw : response
    const controller = new AbortController()
    const end = () => {
      if (!raw.writableEnded) raw.end()
    }
    controller.signal.addEventListener('abort', end, { once: true })
    this.open.add(controller)
    try {
      await streamDashboard(this.dashboard, raw, options)
    } finally {
      this.open.delete(controller)
    }
  }

  /** End every open stream (clients reconnect to another instance). */
  closeAll(): void {
    for (const controller of this.open) controller.abort()
    this.open.clear()
  }
}
