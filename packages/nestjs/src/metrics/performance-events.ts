import { EventEmitter } from 'node:events'
import type { SlowRequestEvent } from './performance-options.js'

/** Events of {@link PerformanceEvents}. */
export interface PerformanceEventMap {
  /** A request took longer than `slowThreshold`. */
  'slow-request': [event: SlowRequestEvent]
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
