/**
 * A bounded read from Redis. A read has a deadline (`timeout`: call > instance > 500 ms, one
 * watchdog timer per dashboard, see `deadlines.ts`) and a consecutive-failure breaker in front
 * (`circuit-breaker.ts`). When Redis cannot answer (past the deadline, a refused or closed
 * connection, the breaker open) the read answers at once from the last snapshot of the same
 * range held in process, marked `stale: true` with `ageMs` (since it was last known current) and
 * `staleReason`, or, when none is held (or it is older than `staleIfError`), rejects with a
 * `StreamUnavailableError` (`E_STREAM_UNAVAILABLE`, retriable). Nothing waits on a dead or hung
 * Redis past the deadline, and while the breaker is open nothing is sent at all.
 *
 * What counts for the breaker: a deadline passed or a connection failure is a failure; a Redis
 * error reply means Redis is up (a success); a read that never reached Redis (a bad range)
 * releases a probe. At most 64 read ranges are kept for stale answers, the oldest dropped first.
 */

import { describeRedisFailure, redisAuthFailure } from '@ayala/internal'
import type { Aggregates } from '../aggregates/define.js'
import { toMs } from '../duration.js'
import { MetricsStreamError, StreamUnavailableError, type StreamUnavailableReason } from '../errors.js'
import { storeIfCurrent } from './copy.js'
import { DEADLINE } from './deadlines.js'
import { fetchSnapshot } from './fetch.js'
import type { DashboardReadOptions } from './options.js'
import type { DashboardSnapshot, ReadParams } from './snapshot.js'
import type { DashboardState } from './state.js'

/** Read ranges whose last snapshot is kept for stale answers (the oldest range is dropped first). */
const MAX_KEPT = 64

/** Redis replies meaning "cannot serve now": unavailability, not a wrong command. */
const TRANSIENT_REPLY = /^(BUSY|LOADING|TRYAGAIN|CLUSTERDOWN|MASTERDOWN)/

/**
 * Whether a failed read means Redis is unavailable, and why; undefined for an error that says
 * nothing about it (a bad range) or a reply error (Redis answered: it is up).
 */
function unavailability(error: unknown): StreamUnavailableReason | undefined {
  if (error === DEADLINE) return 'timeout'
  if (!(error instanceof MetricsStreamError) || error.code !== 'E_STREAM_REDIS') return undefined
  const cause = error.cause
  if (cause instanceof Error && cause.name === 'ReplyError') {
    // Refused credentials are a connection that cannot be used, not an answer.
    return TRANSIENT_REPLY.test(cause.message) || redisAuthFailure(cause) !== undefined
      ? 'connection'
      : undefined
  }
  return 'connection'
}

function isReplyError(error: unknown): boolean {
  return (
    error instanceof MetricsStreamError && error.cause instanceof Error && error.cause.name === 'ReplyError'
  )
}

/**
 * Read `params` from Redis within the deadline and the breaker, keep the snapshot for stale
 * answers and store it in the copy if still current; or answer stale / reject (module note).
 * `key` is the range's key in the copy.
 */
export async function readFromRedis<A extends Aggregates<any>>(
  state: DashboardState<A>,
  key: string,
  params: ReadParams | undefined,
  options: DashboardReadOptions | undefined,
): Promise<DashboardSnapshot<A>> {
  const timeoutMs = options?.timeout === undefined ? state.timeoutMs : toMs(options.timeout, 'timeout')
  if (!state.breaker.allow()) return unavailable(state, key, 'circuit-open', timeoutMs, undefined, options)
  const resets = state.resets
  let snapshot: DashboardSnapshot<A>
  try {
    snapshot = await state.deadlines.bound(fetchSnapshot(state, params), timeoutMs)
  } catch (error) {
    const reason = unavailability(error)
    if (reason === undefined) {
      // Redis answered (an error reply), or the read never reached it (a bad range).
      if (isReplyError(error)) state.breaker.success()
      else state.breaker.release()
      throw error
    }
    state.breaker.failure()
    state.readFailures++
    const cause = error === DEADLINE ? undefined : (error as MetricsStreamError).cause
    return unavailable(state, key, reason, timeoutMs, cause, options)
  }
  state.breaker.success()
  keep(state, key, snapshot)
  storeIfCurrent(state, key, snapshot, resets)
  return snapshot
}

/** Answer a read Redis could not: the kept snapshot marked stale, or a typed rejection. */
function unavailable<A extends Aggregates<any>>(
  state: DashboardState<A>,

  key: string,
  reason: StreamUnavailableReason,
  timeoutMs: number,
  cause: unknown,
  options: DashboardReadOptions | undefined,
): DashboardSnapshot<A> {
  const allowed = options?.staleIfError
  const staleMs =
    allowed === undefined ? state.staleIfErrorMs : allowed === false ? -1 : toMs(allowed, 'staleIfError')
  const kept = state.kept.get(key)
  const now = Date.now()
  if (kept !== undefined && staleMs >= 0 && now - kept.currentAt <= staleMs) {
    state.staleReads++
    return Object.freeze({
      ...kept.snapshot,
      stale: true,
      ageMs: now - kept.currentAt,
      staleReason: reason,
    })
  }
  state.unavailableReads++
  const retryAfterMs = state.breaker.retryAfterMs()
  const why =
    reason === 'timeout'
      ? `Redis did not answer within ${timeoutMs} ms`
      : reason === 'circuit-open'
        ? `the read breaker is open after ${state.breakerThreshold} consecutive failures; next probe in ${Math.ceil(retryAfterMs)} ms`
        : `the Redis connection failed (${describeRedisFailure(state.redis, 'Redis', cause instanceof MetricsStreamError && cause.cause !== undefined ? cause.cause : cause)})`
  const held = kept === undefined ? 'no snapshot of this range is held' : 'the snapshot held is too old'
  throw new StreamUnavailableError(`Dashboard "${state.view.name}" unavailable: ${why}, and ${held}`, {
    view: state.view.name,
    reason,
    timeoutMs,
    retryAfterMs,
    cause,
  })
}

/** Keep `snapshot` as the range's last one (reusing the record: nothing allocated once kept). */
function keep<A extends Aggregates<any>>(
  state: DashboardState<A>,
  key: string,
  snapshot: DashboardSnapshot<A>,
): void {
  const kept = state.kept.get(key)
  if (kept !== undefined) {
    kept.snapshot = snapshot
    kept.currentAt = Date.now()
    return
  }
  if (state.kept.size >= MAX_KEPT) {
    const oldest = state.kept.keys().next().value
    if (oldest !== undefined) state.kept.delete(oldest)
  }
  state.kept.set(key, { snapshot, currentAt: Date.now() })
}
