/**
 * `subscribe()`: full snapshots, not deltas. A notice triggers a re-read, so a subscriber that
 * missed notices (a gap in versions, or a reconnect) is resynchronized by the next snapshot and
 * flagged `resync`; versions yielded only go up within one state (epoch), and a new epoch (the
 * state rebuilt after Redis lost it), a rebuild that completed, or Redis answering again after
 * stale updates replaces what the subscriber holds (`resync`). Wake-ups are coalesced while a
 * read is in flight, keeping the strongest reason.
 *
 * When Redis cannot answer, the update is the last snapshot marked `stale` (`bounded.ts`), and
 * the subscriber re-reads every `breakerCooldown` until Redis answers again; it polls the same
 * way while no notices flow (a lost or silent subscriber link, see `subscription.ts`).
 */
import type { Aggregates } from '../aggregates/define.js'
import type { DashboardSnapshot, DashboardUpdate, ReadParams } from './snapshot.js'
import type { DashboardState, Wake } from './state.js'
import { listen } from './subscription.js'

/** A subscriber's pending wake-up keeps the strongest reason. */
const WAKE_RANK: Record<Wake, number> = { notice: 0, link: 1, resync: 2, close: 3 }

/**
 * Snapshots as they change: the current one first, then one per change (coalesced while a read
 * is in flight), versions strictly increasing within a state. Ends when `signal` aborts or on
 * `close()`.
 *
 * When Redis cannot answer, the update is the last snapshot marked `stale` (with
 * `statusChanged`), and the subscriber re-reads every `breakerCooldown` until Redis answers
 * again, which yields a `resync` snapshot. A lost or silent subscriber link is noticed (see
 * `heartbeatInterval`) and handled the same way.
 *
 * @throws StreamUnavailableError `E_STREAM_UNAVAILABLE` when Redis cannot answer and no
 * snapshot of the range is held to answer stale (the iteration ends)
 */
export async function* subscribeUpdates<A extends Aggregates<any>>(
  state: DashboardState<A>,
  dashboard: { read(params?: ReadParams): Promise<DashboardSnapshot<A>> },
  params: ReadParams | undefined,
  options: { signal?: AbortSignal | undefined } | undefined,
): AsyncGenerator<DashboardUpdate<A>> {
  const signal = options?.signal
  let pending: Wake | undefined
  let wake: (() => void) | undefined
  const waiter = (reason: Wake) => {
    if (pending === undefined || WAKE_RANK[reason] > WAKE_RANK[pending]) pending = reason
    wake?.()
  }
  const onAbort = () => waiter('close')
  state.waiters.add(waiter)
  signal?.addEventListener('abort', onAbort)
  try {
    // Bounded: with Redis down the subscription comes later (a `resync` wake-up then), and the
    // first read answers stale or rejects meanwhile.
    await state.deadlines.bound(listen(state), state.timeoutMs).catch(state.countSubscriberError)
    let last: DashboardSnapshot<A> | undefined
    let resync = false
    while (!state.closed && !signal?.aborted) {
      const snapshot = await dashboard.read(params)
      const sameState =
        last !== undefined && snapshot.generation === last.generation && snapshot.epoch === last.epoch
      const statusChanged =
        last === undefined || snapshot.status !== last.status || snapshot.stale !== last.stale
      const newer = !sameState || statusChanged || snapshot.version > (last as DashboardSnapshot<A>).version
      if (newer) {
        const gap = sameState && snapshot.version > (last as DashboardSnapshot<A>).version + 1
        // A new epoch (the state was rebuilt), a rebuild that just completed, or Redis answering
        // again after stale updates replaces what the subscriber holds.
        const rebuilt =
          last !== undefined &&
          (snapshot.epoch !== last.epoch ||
            (snapshot.status === 'live' && last.status !== 'live') ||
            (last.stale && !snapshot.stale))
        yield { ...snapshot, resync: resync || gap || rebuilt, statusChanged }
        last = snapshot
      }
      // Read after the wake-up that asked for it: what the subscriber holds is current now.
      resync = false
      if (pending === undefined) {
        // Nothing will notify while the figures are stale or the notices do not flow: poll.
        const poll = (last?.stale ?? false) || !state.subscribed
        let timer: ReturnType<typeof setTimeout> | undefined
        await new Promise<void>((done) => {
          wake = done
          if (poll) timer = setTimeout(done, state.cooldownMs)
        })
        if (timer !== undefined) clearTimeout(timer)
        wake = undefined
      }
      const reason = pending
      pending = undefined
      if (reason === 'close') return
      if (reason === 'resync') resync = true
    }
  } finally {
    state.waiters.delete(waiter)
    signal?.removeEventListener('abort', onAbort)
  }
}
