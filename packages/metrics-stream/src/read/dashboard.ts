/**
 * Dashboard reads and push: the facade. A read is one MULTI/EXEC round trip to the view's slot
 * (`fetch.ts`), bounded by a deadline and a breaker, answered stale from the last snapshot held
 * when Redis cannot answer (`bounded.ts`); the in-process copy is coherent by push, not by TTL
 * (`copy.ts`, kept current by the change notices of `subscription.ts`); `subscribe()` yields
 * full snapshots as they change (`subscribe.ts`). The state they share is `state.ts`.
 *
 * How a read flows: `read()` looks the range up in the copy while the notices flow (one Map
 * lookup, nothing allocated: the hit is inlined here) and otherwise starts the subscription
 * without waiting for it; a miss goes to `readFromRedis`, which checks the breaker, fetches
 * within the deadline, keeps the snapshot for stale answers and stores it in the copy only if no
 * notice or link change raced it.
 *
 * Every read carries the view's status from the same MULTI (the meta hash: see
 * `health/view-state.ts`): `live`, `rebuilding` (with progress, read in a second round trip only
 * then), `incomplete` or `missing`, so partial figures are never presented as complete. When
 * Redis lost the view's state, versions start again from 0 in a new epoch: the copy and the
 * subscribers compare epochs too, and the status notices the consumer publishes when a rebuild
 * starts and ends reset the newest version seen, so the in-process copy keeps working after a
 * loss, and subscribers get the rebuild's start and a `resync` snapshot when it completes.
 */

import { scrubRedisErrors } from '@ayala/internal'
import type { Aggregates } from '../aggregates/define.js'
import { MetricsStreamError } from '../errors.js'
import { type HealthReport, viewReasons, worstState } from '../health/reasons.js'
import { readViewState, type ViewState } from '../health/view-state.js'
import { viewKeys } from '../keys.js'
import { checkOptionKeys } from '../option-keys.js'
import { readFromRedis } from './bounded.js'
import type { BreakerState } from './circuit-breaker.js'
import { DEADLINE } from './deadlines.js'
import { rangeKey, selectedAggregates } from './fetch.js'
import {
  type DashboardOptions,
  type DashboardReadOptions,
  READ_DASHBOARD_OPTION_KEYS,
  resolveDashboardOptions,
} from './options.js'
import type { ChangeNotice, DashboardSnapshot, DashboardUpdate, ReadParams } from './snapshot.js'
import { DashboardState } from './state.js'
import { subscribeUpdates } from './subscribe.js'
import { listen } from './subscription.js'

/** Counters of a dashboard's reads and subscriber (see {@link Dashboard.stats}). */
export interface DashboardStats {
  /** Whether the in-process copy is in use (the change notices flow). */
  subscribed: boolean
  /** Read ranges held by the in-process copy now. */
  cachedRanges: number
  /** Subscriber connection errors and failed heartbeats. */
  subscriberErrors: number
  /** The read breaker: `open` while reads are answered without asking Redis. */
  breaker: BreakerState
  /** Reads Redis could not answer (deadline passed, connection failed), since start. */
  readFailures: number
  /** Reads answered with a stale snapshot, since start. */
  staleReads: number
  /** Reads rejected with `E_STREAM_UNAVAILABLE` (no snapshot to serve), since start. */
  unavailableReads: number
}

/** A dashboard's health: the view's state, and the reasons it is not up. */
export interface DashboardHealth extends HealthReport {
  readonly view: ViewState
}

/** Reads, caches and pushes one view's figures. */
export class Dashboard<A extends Aggregates<any>> {
  private readonly state: DashboardState<A>

  constructor(options: DashboardOptions<A>) {
    const resolved = resolveDashboardOptions(options)
    this.state = new DashboardState(options, resolved)
    viewKeys(options.namespace, options.view.name, 1)
    // Refused credentials reject reads with ioredis' AUTH error, password inside: scrub it.
    scrubRedisErrors(options.redis)
  }

  /**
   * All figures of the view in one Redis round trip (microseconds from the in-process copy when
   * the cache is on and nothing changed since), within the read's deadline. When Redis cannot
   * answer in time (or the read breaker is open), the last snapshot of the same range held in
   * process is returned marked `stale: true` (with `ageMs` and `staleReason`).
   *
   * @throws StreamUnavailableError `E_STREAM_UNAVAILABLE` (retriable) when Redis cannot answer
   * and no snapshot of the range is held (or it is older than `staleIfError`)
   * With `params.figures`, only the figures named are read, and the snapshot's type says so.
   *
   * @throws MetricsStreamError `E_STREAM_INVALID_READ` for a bucket range over 1000 buckets or a
   * figure the view lacks, `E_STREAM_REDIS` when Redis answers with an error, `E_STREAM_CLOSED`
   * after `close()`
   */
  read<const K extends keyof A & string>(
    params: ReadParams & { figures: readonly K[] },
    options?: DashboardReadOptions,
  ): Promise<DashboardSnapshot<Pick<A, K>>>
  read(params?: ReadParams, options?: DashboardReadOptions): Promise<DashboardSnapshot<A>>
  async read(params?: ReadParams, options?: DashboardReadOptions): Promise<DashboardSnapshot<A>> {
    const state = this.state
    if (state.closed) throw new MetricsStreamError('E_STREAM_CLOSED', 'The dashboard is closed')
    const key = params === undefined ? '' : rangeKey(params)
    // A bad selection is refused before the copy, the breaker and Redis.
    if (params?.figures !== undefined) selectedAggregates(state.view.aggregates, params)
    if (state.useCache) {
      if (state.subscribed) {
        const hit = state.cache.get(key)
        if (hit !== undefined) return hit
      } else if (state.subscribing === undefined) {
        // Start listening without making this read wait for it: caching begins once subscribed.
        listen(state).catch(state.countSubscriberError)
      }
    }
    return readFromRedis(state, key, params, options)
  }

  /**
   * The view's health as readers see it: `up` when live, `degraded` while it is rebuilt from the
   * topic, `down` when its state is missing in Redis or incomplete (the topic lost events it
   * needs); with the state (status, epoch, version, progress). Reads Redis (pointer and meta in
   * one round trip, progress in a second one while rebuilding), not the cache, within `timeout`.
   *
   * @throws MetricsStreamError `E_STREAM_REDIS` when Redis fails or does not answer within
   * `timeout`, `E_STREAM_CLOSED` after `close()`
   */
  async health(): Promise<DashboardHealth> {
    const state = this.state
    if (state.closed) throw new MetricsStreamError('E_STREAM_CLOSED', 'The dashboard is closed')
    let view: ViewState
    try {
      view = await state.deadlines.bound(readViewState(state.redis, state.keysOf), state.timeoutMs)
    } catch (error) {
      const timedOut = error === DEADLINE
      throw new MetricsStreamError(
        'E_STREAM_REDIS',
        timedOut
          ? `Reading the view's state: Redis did not answer within ${state.timeoutMs} ms`
          : "Reading the view's state failed",
        { view: state.view.name, retriable: true, cause: timedOut ? undefined : error },
      )
    }
    const reasons = viewReasons(view)
    return { state: worstState(reasons), reasons, view }
  }

  /**
   * Resolves once the dashboard receives change notices, i.e. once reads can be served from the
   * in-process copy. Reads do not wait for it (the first read starts it and is not cached).
   *
   * @throws MetricsStreamError `E_STREAM_REDIS` when SUBSCRIBE fails (retriable)
   */
  ready(): Promise<void> {
    return listen(this.state)
  }

  /** Call `listener` for every change notice of the view (starts the subscription). */
  async onChange(listener: (notice: ChangeNotice) => void): Promise<() => void> {
    this.state.listeners.add(listener)
    await listen(this.state)
    return () => this.state.listeners.delete(listener)
  }

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
   * With `params.figures`, each update holds only the figures named (and changes of the others
   * still yield an update: notices are per view).
   *
   * @throws StreamUnavailableError `E_STREAM_UNAVAILABLE` when Redis cannot answer and no
   * snapshot of the range is held to answer stale (the iteration ends)
   */
  subscribe<const K extends keyof A & string>(
    params: ReadParams & { figures: readonly K[] },
    options?: { signal?: AbortSignal | undefined },
  ): AsyncGenerator<DashboardUpdate<Pick<A, K>>>
  subscribe(
    params?: ReadParams,
    options?: { signal?: AbortSignal | undefined },
  ): AsyncGenerator<DashboardUpdate<A>>
  subscribe(
    params?: ReadParams,
    options?: { signal?: AbortSignal | undefined },
  ): AsyncGenerator<DashboardUpdate<A>> {
    return subscribeUpdates(this.state, this, params, options)
  }

  /** Whether the in-process copy is in use (subscribed), cached read ranges, the read breaker and the degraded reads. */
  stats(): DashboardStats {
    const state = this.state
    return {
      subscribed: state.subscribed,
      cachedRanges: state.cache.size,
      subscriberErrors: state.subscriberErrors,
      breaker: state.breaker.state,
      readFailures: state.readFailures,
      staleReads: state.staleReads,
      unavailableReads: state.unavailableReads,
    }
  }

  /** Stop listening and release the subscriber connection (if the dashboard created it). */
  async close(): Promise<void> {
    const state = this.state
    state.closed = true
    if (state.heartbeat !== undefined) clearInterval(state.heartbeat)
    state.heartbeat = undefined
    for (const waiter of state.waiters) waiter('close')
    state.cache.clear()
    state.kept.clear()
    const subscriber = state.subscriber
    state.subscriber = undefined
    if (subscriber && state.ownsSubscriber) subscriber.disconnect()
    else if (subscriber) await subscriber.unsubscribe(viewKeys(state.namespace, state.view.name, 1).channel)
  }
}

/** Create a {@link Dashboard} reading (and optionally caching and pushing) a view's figures. */
export function createDashboard<A extends Aggregates<any>>(options: DashboardOptions<A>): Dashboard<A> {
  return new Dashboard(options)
}

/**
 * All figures of a view in one Redis round trip, without a long-lived dashboard (no cache, no
 * subscription): `readDashboard({ redis, namespace, view }, { from, to })`.
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` (thrown, not rejected) for an unknown
 * option (`cache` and `subscriber` included) or an invalid one; `E_STREAM_INVALID_READ` for a
 * range over 1000 buckets, `E_STREAM_REDIS` when Redis fails
 */
export function readDashboard<A extends Aggregates<any>, const K extends keyof A & string>(
  options: Omit<DashboardOptions<A>, 'cache' | 'subscriber'>,
  params: ReadParams & { figures: readonly K[] },
): Promise<DashboardSnapshot<Pick<A, K>>>
export function readDashboard<A extends Aggregates<any>>(
  options: Omit<DashboardOptions<A>, 'cache' | 'subscriber'>,
  params?: ReadParams,
): Promise<DashboardSnapshot<A>>
export function readDashboard<A extends Aggregates<any>>(
  options: Omit<DashboardOptions<A>, 'cache' | 'subscriber'>,
  params?: ReadParams,
): Promise<DashboardSnapshot<A>> {
  checkOptionKeys(options, READ_DASHBOARD_OPTION_KEYS, 'readDashboard')
  return new Dashboard({ ...options, cache: false }).read(params)
}
