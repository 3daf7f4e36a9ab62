import { EventEmitter } from 'node:events'
import type { SlowRequestEvent } from './performance-options.js'

/** One measured request, emitted as `request` (only built when someone listens). */
export interface RequestEvent extends Omit<SlowRequestEvent, 'thresholdMs'> {
  /** When the request ended, epoch milliseconds. */
  at: number
  /** Whether it crossed the slow-request threshold. */
  slow: boolean
  /**
   * HTTP only: the request path without its query string (`/invoices/42`), at most 1,024
   * characters; `undefined` for other transports. Unbounded in value: never a metric label (the
   * `route` pattern is).
   */
  path?: string | undefined
}

/** Events of {@link PerformanceEvents}. */
export interface PerformanceEventMap {
  /** A request took longer than `slowThreshold`. */
  'slow-request': [event: SlowRequestEvent]
  /** Every measured request (e.g. for a sink that writes them to a search index). */
  request: [event: RequestEvent]
}

/**
 * The performance interceptor's event emitter, injectable as `PerformanceEvents`. Listen to
 * `'slow-request'` to page someone, sample a trace or count slowness by route.
 *
 * ```ts
 * constructor(events: PerformanceEvents) { events.on('slow-request', (e) => alert(e.route, e.durationMs)) }
 * ```
 */
export class PerformanceEvents extends EventEmitter<PerformanceEventMap> {}
