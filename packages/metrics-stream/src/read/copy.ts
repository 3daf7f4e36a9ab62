/**
 * The in-process copy: coherent by push, not by TTL. The dashboard subscribes to the view's
 * change channel, every applied chunk publishes its version atomically with its writes, and a
 * notice empties the copy (`subscription.ts`). A result is stored only if its version is at least
 * the newest notice seen, of the generation readers use, and only while the subscription is up
 * with no reset (a notice about the view itself, a lost or regained link) since the read started,
 * so a read racing a notice can never store an older snapshot after the notice (the refill race
 * of cache peers). A lost connection empties the copy and disables it until resubscribed.
 *
 * The hit itself is in the facade (`Dashboard.read`): one Map lookup, nothing allocated.
 */
import type { Aggregates } from '../aggregates/define.js'
import type { DashboardSnapshot } from './snapshot.js'
import type { DashboardState } from './state.js'

/**
 * Store `snapshot` for `key` if it is still current: see the module note. `resets` is the
 * state's reset count when the read started.
 */
export function storeIfCurrent<A extends Aggregates<any>>(
  state: DashboardState<A>,
  key: string,
  snapshot: DashboardSnapshot<A>,
  resets: number,
): void {
  if (
    state.useCache &&
    state.subscribed &&
    resets === state.resets &&
    snapshot.version >= state.noticed &&
    snapshot.generation === state.generation
  ) {
    state.cache.set(key, snapshot)
  }
}

/**
 * Empty the in-process copy. Its snapshots were current until now (the notices kept them so):
 * their kept records say so, so that a stale answer gives the true age.
 */
export function clearCache(state: DashboardState<any>): void {
  if (state.cache.size === 0) return
  state.clearedAt = Date.now()
  state.cache.forEach(markCurrent, state)
  state.cache.clear()
}

/** `forEach` callback with the state as `this` (no closure per clear). */
function markCurrent(this: DashboardState<any>, snapshot: DashboardSnapshot<any>, key: string): void {
  const kept = this.kept.get(key)
  if (kept !== undefined && kept.snapshot === snapshot) kept.currentAt = this.clearedAt
}
