/**
 * Health as a list of reasons, worst wins: every mechanism that can make the figures wrong or late
 * (the view rebuilding, the topic truncated, Redis unreachable, a source that cannot decode a
 * batch) adds its own reason with a stable code, and the state is the worst of them: `up` with
 * none, `degraded` (the figures are partial or late, and heal by themselves), `down` (they are
 * wrong or unavailable until someone acts, or for good). New reasons are one more entry, not a new
 * state machine.
 */
import type { MetricsStreamErrorCode } from '../errors.js'
import type { ViewState } from './view-state.js'

/** `up` (no reason), `degraded` (partial or late, healing by itself), `down`. */
export type HealthState = 'up' | 'degraded' | 'down'

/** One reason the figures are not up. */
export interface HealthReason {
  /** Stable code, e.g. `E_STREAM_REBUILDING`, `E_STREAM_LOG_TRUNCATED`, `E_STREAM_REDIS`. */
  readonly code: MetricsStreamErrorCode
  /** `degraded` or `down`. */
  readonly state: Exclude<HealthState, 'up'>
  readonly message: string
  /** Since when it holds, epoch milliseconds. */
  readonly since: number
  readonly topic?: string | undefined
  readonly partition?: number | undefined
}

/** A health report: the worst state of its reasons, and the reasons. */
export interface HealthReport {
  readonly state: HealthState
  readonly reasons: readonly HealthReason[]
}

/** The worst state of `reasons` (`up` for none). */
export function worstState(reasons: readonly HealthReason[]): HealthState {
  let state: HealthState = 'up'
  for (const reason of reasons) {
    if (reason.state === 'down') return 'down'
    state = 'degraded'
  }
  return state
}

/** The reasons a view state gives (none when live). @internal */
export function viewReasons(view: ViewState, now = Date.now()): HealthReason[] {
  if (view.reason === undefined) return []
  const progress = view.progress
  const message =
    view.status === 'rebuilding' && progress
      ? `${view.reason.message} (${progress.applied} of ${progress.records} records, ${(progress.ratio * 100).toFixed(1)}%)`
      : view.reason.message
  return [
    {
      code: view.reason.code,
      state: view.status === 'rebuilding' ? 'degraded' : 'down',
      message,
      since: view.startedAt ?? now,
    },
  ]
}

/**
 * Reasons held by a process, keyed by code (and partition, when given), so that setting a reason
 * again keeps its `since`. @internal
 */
export class HealthReasons {
  private readonly held = new Map<string, HealthReason>()

  set(reason: Omit<HealthReason, 'since'>): void {
    const key = `${reason.code}:${reason.topic ?? ''}:${reason.partition ?? ''}`
    const since = this.held.get(key)?.since ?? Date.now()
    this.held.set(key, { ...reason, since })
  }

  clear(code: MetricsStreamErrorCode): void {
    for (const [key, reason] of this.held) if (reason.code === code) this.held.delete(key)
  }

  /** Clear the reason of one partition (set with that `topic` and `partition`). */
  delete(code: MetricsStreamErrorCode, topic: string, partition: number): void {
    this.held.delete(`${code}:${topic}:${partition}`)
  }

  list(): HealthReason[] {
    return [...this.held.values()]
  }
}
