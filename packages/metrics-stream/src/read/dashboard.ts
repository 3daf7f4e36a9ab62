/**
 * Dashboard reads and push. A read is one MULTI/EXEC round trip to the view's slot: the pointer
 * (which generation readers use), the version and every figure; if the pointer names another
 * generation than assumed, the read is repeated once with it.
 *
 * The in-process cache is coherent by push, not by TTL: the dashboard subscribes to the view's
 * change channel, every applied chunk publishes its version atomically with its writes, and a
 * notice empties the cache. A result is cached only if its version is at least the newest notice
 * seen and only while the subscription is up (a lost connection empties the cache and disables it
 * until resubscribed), so a read racing a notice can never store an older snapshot after the
 * notice (the refill race of cache peers).
 *
 * `subscribe()` yields full snapshots, not deltas: a notice triggers a re-read, so a subscriber
 * that missed notices (a gap in versions, or a reconnect) is resynchronized by the next snapshot
 * and flagged `resync`; versions yielded only go up within one state (epoch).
 *
 * Every read carries the view's status from the same MULTI (the meta hash: see
 * `health/view-state.ts`): `live`, `rebuilding` (with progress, read in a second round trip only
 * then), `incomplete` or `missing`, so partial figures are never presented as complete. When
 * Redis lost the view's state, versions start again from 0 in a new epoch: the cache and the
 * subscribers compare epochs too, and the status notices the consumer publishes when a rebuild
 * starts and ends (`<version> <generation> - -1 <status> 0`) reset the newest version seen, so
 * the in-process copy keeps working after a loss, and subscribers get the rebuild's start and a
 * `resync` snapshot when it completes.
 *
 * **Bounded.** A read from Redis has a deadline (`timeout`: call > instance > 500 ms, one
 * watchdog timer per dashboard, see `deadlines.ts`) and a consecutive-failure breaker in front
 * (`circuit-breaker.ts`). When Redis cannot answer (past the deadline, a refused or closed
 * connection, the breaker open) the read answers at once from the last snapshot of the same range
 * held in process, marked `stale: true` with `ageMs` (since it was last known current) and
 * `staleReason`, or, when none is held (or it is older than `staleIfError`), rejects with a
 * `StreamUnavailableError` (`E_STREAM_UNAVAILABLE`, retriable). Nothing waits on a dead or hung
 * Redis past the deadline, and while the breaker is open nothing is sent at all. A hit of the
 * in-process copy never arms anything: it stays one Map lookup.
 *
 * A subscriber connection that stops answering without closing (a hung server, a blackholed
 * route) would keep the copy "current" forever: a PING every `heartbeatInterval`, bounded by the
 * deadline, notices it; the copy is then turned off exactly as for a closed connection, the
 * dashboard's own subscriber connection is reconnected in the background, and subscribers re-read
 * (stale, with a status change) and poll every `breakerCooldown` until notices flow again, when
 * they get a `resync` snapshot.
 */
import type { Cluster, Redis } from 'ioredis'
import { bucketLabel, bucketStart, nextBucket } from '../aggregates/buckets.js'
import type { Aggregate, Aggregates, Figures, Ranked, View } from '../aggregates/define.js'
import { type Duration, toMs } from '../duration.js'
import { MetricsStreamError, StreamUnavailableError, type StreamUnavailableReason } from '../errors.js'
import { type HealthReport, viewReasons, worstState } from '../health/reasons.js'
import {
  META_FIELDS,
  parseMeta,
  type RebuildProgress,
  readProgress,
  readViewState,
  type ViewState,
  type ViewStateReason,
  type ViewStatus,
} from '../health/view-state.js'
import { type ViewKeys, viewKeys } from '../keys.js'
import { describeRedisFailure, redisAuthFailure, scrubRedisErrors } from '../redact.js'
import { type BreakerState, CircuitBreaker } from './circuit-breaker.js'
import { DEADLINE, Deadlines } from './deadlines.js'

/** Options of {@link createDashboard}. */
export interface DashboardOptions<A extends Aggregates<any>> {
  /**
   * ioredis client (or Cluster) to read from: the server the consumer writes to, or a replica of
   * it (reads only; Redis 7 replicates each apply script as one MULTI/EXEC, notice included, so a
   * replica's readers and subscribers see whole batches in order).
   */
  redis: Redis | Cluster
  /** Key namespace the consumer writes to. */
  namespace: string
  /** The view to read. */
  view: View<any, any, A>
  /**
   * Keep the latest snapshot per read range in process, emptied by the change notices.
   * @default true
   */
  cache?: boolean | undefined
  /**
   * Connection used for SUBSCRIBE (it cannot run other commands).
   * @default `redis.duplicate()`, closed by `close()`
   */
  subscriber?: Redis | Cluster | undefined
  /**
   * Deadline of one read from Redis (its MULTI, the retry after a generation switch and the
   * rebuild progress), a number of ms or `'500ms'`; per call: `read(params, { timeout })`. Past it
   * the read answers stale or rejects with `E_STREAM_UNAVAILABLE` (see `staleIfError`). Also
   * bounds `health()` and the subscriber's heartbeat PING. A hit of the in-process copy is not
   * concerned (no Redis call).
   * @default '500ms'
   */
  timeout?: Duration | undefined
  /** Consecutive unavailability failures of reads (deadline passed, connection failed) that open the read breaker. @default 5 */
  breakerThreshold?: number | undefined
  /**
   * How long the open breaker refuses reads (answered stale or `E_STREAM_UNAVAILABLE`, no command
   * sent) before letting one probe through; also the interval at which a subscriber re-reads while
   * it holds a stale snapshot or no notices flow.
   * @default '2s'
   */
  breakerCooldown?: Duration | undefined
  /**
   * When Redis cannot answer a read: answer with the last snapshot of the same range held in
   * process, marked `stale: true` with its `ageMs`, if it was current at most this long ago;
   * `false`: reject with `E_STREAM_UNAVAILABLE` instead. Per call: `read(params, { staleIfError })`.
   * At most 64 read ranges are kept for this.
   * @default '1h'
   */
  staleIfError?: Duration | false | undefined
  /**
   * Interval of a PING on the subscriber connection (bounded by `timeout`), so that a link that
   * stopped answering without closing (a hung server, a blackholed route) is noticed within about
   * `heartbeatInterval + timeout`: the in-process copy is turned off, subscribers re-read. `false`:
   * no heartbeat (only a closed connection is noticed). Not used on a Redis Cluster subscriber.
   * @default '1s'
   */
  heartbeatInterval?: Duration | false | undefined
}

/** Defaults of {@link DashboardOptions}. */
export const DEFAULT_DASHBOARD_OPTIONS = Object.freeze({
  cache: true,
  timeout: '500ms' as Duration,
  breakerThreshold: 5,
  breakerCooldown: '2s' as Duration,
  staleIfError: '1h' as Duration | false,
  heartbeatInterval: '1s' as Duration | false,
})

/** Per-call options of {@link Dashboard.read} (call > instance > default). */
export interface DashboardReadOptions {
  /** Deadline of this read from Redis. @default the dashboard's `timeout` */
  timeout?: Duration | undefined
  /** How old a stale answer may be, or `false` to reject instead. @default the dashboard's `staleIfError` */
  staleIfError?: Duration | false | undefined
}

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

/** Time range of bucketed figures (inclusive; epoch ms or Dates). */
export interface ReadParams {
  /** First bucket: the one containing this instant. @default the `readBuckets`-th last bucket */
  from?: number | Date | undefined
  /** Last bucket: the one containing this instant. @default now */
  to?: number | Date | undefined
}

/** All figures of a view at one version. */
export interface DashboardSnapshot<A> {
  /** The view version (applied chunks of this state; only goes up for subscribers within an epoch). */
  readonly version: number
  /** The generation read. */
  readonly generation: number
  readonly figures: Figures<A>
  /**
   * Whether the figures are complete: `live`; or partial: `rebuilding` (a replay from the topic
   * is under way, see `progress`), `incomplete` (the topic no longer holds events they need),
   * `missing` (Redis holds no state for the view: zeros that mean nothing). Only `live` figures
   * are the truth.
   */
  readonly status: ViewStatus
  /** Identity of the view's state in Redis ('' when none): it changes when the state is rebuilt after a loss. */
  readonly epoch: string
  /** While `rebuilding`: records applied vs records to replay, per partition. */
  readonly progress: RebuildProgress | undefined
  /** When not `live`: why (`E_STREAM_REBUILDING`, `E_STREAM_LOG_TRUNCATED`, `E_STREAM_STATE_MISSING`...). */
  readonly reason: ViewStateReason | undefined
  /**
   * True when Redis could not answer this read (see `staleReason`) and the last snapshot of the
   * range held in process was served instead: the figures (and `status`) are as of `ageMs` ago.
   * False for a read from Redis or from the in-process copy kept current by the change notices.
   */
  readonly stale: boolean
  /** 0 when not stale; else milliseconds since these figures were last known current. */
  readonly ageMs: number
  /** Why a stale answer is stale: `timeout`, `connection` or `circuit-open`; undefined when not stale. */
  readonly staleReason: StreamUnavailableReason | undefined
}

/** One update yielded by {@link Dashboard.subscribe}. */
export interface DashboardUpdate<A> extends DashboardSnapshot<A> {
  /**
   * True when this snapshot resynchronizes: versions were skipped (missed notices, reconnect), the
   * state was rebuilt (a new epoch), a rebuild just completed (`status` back to `live`), or Redis
   * answers again after stale updates.
   */
  readonly resync: boolean
  /** True when `status` or `stale` differs from the previous update's (always true for the first). */
  readonly statusChanged: boolean
}

/** A dashboard's health: the view's state, and the reasons it is not up. */
export interface DashboardHealth extends HealthReport {
  readonly view: ViewState
}

/** A decoded change notice. */
export interface ChangeNotice {
  version: number
  generation: number
  /** The chunk's topic, or `-` for a notice about the view itself (promotion, status). */
  topic: string
  partition: number
  offset: string
  /** Oldest record timestamp of the chunk (epoch ms). */
  oldestEventAt: number
  /** A status notice (topic `-`): the view's new status (`rebuilding`, `live`, `incomplete`). */
  status?: ViewStatus | undefined
}

const STATUSES = new Set<string>(['live', 'rebuilding', 'incomplete', 'missing'])

type Decoder = (replies: unknown[], index: number) => [unknown, number]

const MAX_BUCKETS = 1_000
/** Read ranges whose last snapshot is kept for stale answers (the oldest range is dropped first). */
const MAX_KEPT = 64

/** The last snapshot of a read range, and when it was last known current (epoch ms). */
interface Kept<A> {
  snapshot: DashboardSnapshot<A>
  currentAt: number
}

type Wake = 'notice' | 'link' | 'resync' | 'close'
/** A subscriber's pending wake-up keeps the strongest reason. */
const WAKE_RANK: Record<Wake, number> = { notice: 0, link: 1, resync: 2, close: 3 }

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

const KNOWN_OPTIONS = new Set([
  'redis',
  'namespace',
  'view',
  'subscriber',
  ...Object.keys(DEFAULT_DASHBOARD_OPTIONS),
])

function positiveInteger(value: unknown, option: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', `${option} must be a positive integer`)
  }
  return value
}

function rangeKey(params: ReadParams): string {
  return `${params.from === undefined ? '' : ms(params.from)}|${params.to === undefined ? '' : ms(params.to)}`
}

function ms(value: number | Date): number {
  return typeof value === 'number' ? value : value.getTime()
}

function toNumbers(hash: Record<string, string>): Record<string, number> {
  const result: Record<string, number> = {}
  for (const field in hash) result[field] = Number(hash[field])
  return result
}

/** Parse a change notice published by the apply script. */
export function parseNotice(message: string): ChangeNotice | undefined {
  const parts = message.split(' ')
  if (parts.length !== 6) return undefined
  const notice: ChangeNotice = {
    version: Number(parts[0]),
    generation: Number(parts[1]),
    topic: parts[2] as string,
    partition: Number(parts[3]),
    offset: parts[4] as string,
    oldestEventAt: Number(parts[5]),
  }
  if (notice.topic === '-' && STATUSES.has(notice.offset)) notice.status = notice.offset as ViewStatus
  return notice
}

/** Reads, caches and pushes one view's figures. */
export class Dashboard<A extends Aggregates<any>> {
  private readonly redis: Redis | Cluster
  private readonly view: View<any, any, A>
  private readonly namespace: string
  private readonly useCache: boolean
  private readonly ownsSubscriber: boolean
  private readonly timeoutMs: number
  private readonly cooldownMs: number
  private readonly staleIfErrorMs: number
  private readonly heartbeatMs: number
  private readonly breakerThreshold: number
  private readonly breaker: CircuitBreaker
  private readonly deadlines = new Deadlines()
  private subscriber: Redis | Cluster | undefined
  private subscribing: Promise<void> | undefined
  private subscribed = false
  private generation = 1
  private noticed = 0
  /**
   * Bumped by every notice about the view itself and every loss or return of the subscriber
   * link: a read that started before one is not cached.
   */
  private resets = 0
  private closed = false
  private subscriberErrors = 0
  private readFailures = 0
  private staleReads = 0
  private unavailableReads = 0
  private attached = false
  /** The heartbeat found the subscriber link silent; cleared when it answers or reconnects. */
  private linkLost = false
  private pinging = false
  private heartbeat: ReturnType<typeof setInterval> | undefined
  private clearedAt = 0
  private readonly cache = new Map<string, DashboardSnapshot<A>>()
  /** The last snapshot of each read range, for stale answers (kept apart from the coherent copy). */
  private readonly kept = new Map<string, Kept<A>>()
  private readonly waiters = new Set<(reason: Wake) => void>()
  private readonly keysOf = (generation: number) => viewKeys(this.namespace, this.view.name, generation)
  private readonly listeners = new Set<(notice: ChangeNotice) => void>()

  constructor(options: DashboardOptions<A>) {
    if (options === null || typeof options !== 'object') {
      throw new MetricsStreamError('E_STREAM_INVALID_OPTION', 'createDashboard expects an options object')
    }
    for (const name of Object.keys(options)) {
      if (!KNOWN_OPTIONS.has(name)) {
        throw new MetricsStreamError('E_STREAM_INVALID_OPTION', `Unknown dashboard option "${name}"`)
      }
    }
    const d = DEFAULT_DASHBOARD_OPTIONS
    this.redis = options.redis
    this.view = options.view
    this.namespace = options.namespace
    this.useCache = options.cache ?? d.cache
    this.ownsSubscriber = options.subscriber === undefined
    this.subscriber = options.subscriber
    this.timeoutMs = toMs(options.timeout ?? d.timeout, 'timeout')
    if (!(this.timeoutMs > 0)) {
      throw new MetricsStreamError('E_STREAM_INVALID_OPTION', 'timeout must be a positive duration')
    }
    this.cooldownMs = toMs(options.breakerCooldown ?? d.breakerCooldown, 'breakerCooldown')
    const stale = options.staleIfError === undefined ? d.staleIfError : options.staleIfError
    this.staleIfErrorMs = stale === false ? -1 : toMs(stale, 'staleIfError')
    const heartbeat =
      options.heartbeatInterval === undefined ? d.heartbeatInterval : options.heartbeatInterval
    this.heartbeatMs = heartbeat === false ? 0 : toMs(heartbeat, 'heartbeatInterval')
    if (heartbeat !== false && !(this.heartbeatMs > 0 && Number.isFinite(this.heartbeatMs))) {
      throw new MetricsStreamError(
        'E_STREAM_INVALID_OPTION',
        'heartbeatInterval must be a positive finite duration or false',
      )
    }
    this.breakerThreshold = positiveInteger(
      options.breakerThreshold ?? d.breakerThreshold,
      'breakerThreshold',
    )
    this.breaker = new CircuitBreaker(this.breakerThreshold, this.cooldownMs)
    viewKeys(this.namespace, this.view.name, 1)
    // Refused credentials reject reads with ioredis' AUTH error, password inside: scrub it.
    scrubRedisErrors(this.redis)
  }

  /**
   * All figures of the view in one Redis round trip (microseconds from the in-process copy when
   * the cache is on and nothing changed since), within the read's deadline. When Redis cannot
   * answer in time (or the read breaker is open), the last snapshot of the same range held in
   * process is returned marked `stale: true` (with `ageMs` and `staleReason`).
   *
   * @throws StreamUnavailableError `E_STREAM_UNAVAILABLE` (retriable) when Redis cannot answer
   * and no snapshot of the range is held (or it is older than `staleIfError`)
   * @throws MetricsStreamError `E_STREAM_INVALID_READ` for a bucket range over 1000 buckets,
   * `E_STREAM_REDIS` when Redis answers with an error, `E_STREAM_CLOSED` after `close()`
   */
  async read(params?: ReadParams, options?: DashboardReadOptions): Promise<DashboardSnapshot<A>> {
    if (this.closed) throw new MetricsStreamError('E_STREAM_CLOSED', 'The dashboard is closed')
    const key = params === undefined ? '' : rangeKey(params)
    if (this.useCache) {
      if (this.subscribed) {
        const hit = this.cache.get(key)
        if (hit !== undefined) return hit
      } else if (this.subscribing === undefined) {
        // Start listening without making this read wait for it: caching begins once subscribed.
        this.listen().catch(this.countSubscriberError)
      }
    }
    const timeoutMs = options?.timeout === undefined ? this.timeoutMs : toMs(options.timeout, 'timeout')
    if (!this.breaker.allow()) return this.unavailable(key, 'circuit-open', timeoutMs, undefined, options)
    const resets = this.resets
    let snapshot: DashboardSnapshot<A>
    try {
      snapshot = await this.deadlines.bound(this.fetch(params), timeoutMs)
    } catch (error) {
      const reason = unavailability(error)
      if (reason === undefined) {
        // Redis answered (an error reply), or the read never reached it (a bad range).
        if (isReplyError(error)) this.breaker.success()
        else this.breaker.release()
        throw error
      }
      this.breaker.failure()
      this.readFailures++
      const cause = error === DEADLINE ? undefined : (error as MetricsStreamError).cause
      return this.unavailable(key, reason, timeoutMs, cause, options)
    }
    this.breaker.success()
    this.keep(key, snapshot)
    if (
      this.useCache &&
      this.subscribed &&
      resets === this.resets &&
      snapshot.version >= this.noticed &&
      snapshot.generation === this.generation
    ) {
      this.cache.set(key, snapshot)
    }
    return snapshot
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
    if (this.closed) throw new MetricsStreamError('E_STREAM_CLOSED', 'The dashboard is closed')
    let view: ViewState
    try {
      view = await this.deadlines.bound(readViewState(this.redis, this.keysOf), this.timeoutMs)
    } catch (error) {
      const timedOut = error === DEADLINE
      throw new MetricsStreamError(
        'E_STREAM_REDIS',
        timedOut
          ? `Reading the view's state: Redis did not answer within ${this.timeoutMs} ms`
          : "Reading the view's state failed",
        { view: this.view.name, retriable: true, cause: timedOut ? undefined : error },
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
    return this.listen()
  }

  /** Call `listener` for every change notice of the view (starts the subscription). */
  async onChange(listener: (notice: ChangeNotice) => void): Promise<() => void> {
    this.listeners.add(listener)
    await this.listen()
    return () => this.listeners.delete(listener)
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
   * @throws StreamUnavailableError `E_STREAM_UNAVAILABLE` when Redis cannot answer and no
   * snapshot of the range is held to answer stale (the iteration ends)
   */
  async *subscribe(
    params?: ReadParams,
    options?: { signal?: AbortSignal | undefined },
  ): AsyncGenerator<DashboardUpdate<A>> {
    const signal = options?.signal
    let pending: Wake | undefined
    let wake: (() => void) | undefined
    const waiter = (reason: Wake) => {
      if (pending === undefined || WAKE_RANK[reason] > WAKE_RANK[pending]) pending = reason
      wake?.()
    }
    const onAbort = () => waiter('close')
    this.waiters.add(waiter)
    signal?.addEventListener('abort', onAbort)
    try {
      // Bounded: with Redis down the subscription comes later (a `resync` wake-up then), and the
      // first read answers stale or rejects meanwhile.
      await this.deadlines.bound(this.listen(), this.timeoutMs).catch(this.countSubscriberError)
      let last: DashboardSnapshot<A> | undefined
      let resync = false
      while (!this.closed && !signal?.aborted) {
        const snapshot = await this.read(params)
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
          const poll = (last?.stale ?? false) || !this.subscribed
          let timer: ReturnType<typeof setTimeout> | undefined
          await new Promise<void>((done) => {
            wake = done
            if (poll) timer = setTimeout(done, this.cooldownMs)
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
      this.waiters.delete(waiter)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Whether the in-process copy is in use (subscribed), cached read ranges, the read breaker and the degraded reads. */
  stats(): DashboardStats {
    return {
      subscribed: this.subscribed,
      cachedRanges: this.cache.size,
      subscriberErrors: this.subscriberErrors,
      breaker: this.breaker.state,
      readFailures: this.readFailures,
      staleReads: this.staleReads,
      unavailableReads: this.unavailableReads,
    }
  }

  /** Stop listening and release the subscriber connection (if the dashboard created it). */
  async close(): Promise<void> {
    this.closed = true
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat)
    this.heartbeat = undefined
    for (const waiter of this.waiters) waiter('close')
    this.cache.clear()
    this.kept.clear()
    const subscriber = this.subscriber
    this.subscriber = undefined
    if (subscriber && this.ownsSubscriber) subscriber.disconnect()
    else if (subscriber) await subscriber.unsubscribe(viewKeys(this.namespace, this.view.name, 1).channel)
  }

  private readonly countSubscriberError = (): void => {
    this.subscriberErrors++
  }

  /** Answer a read Redis could not: the kept snapshot marked stale, or a typed rejection. */
  private unavailable(
    key: string,
    reason: StreamUnavailableReason,
    timeoutMs: number,
    cause: unknown,
    options: DashboardReadOptions | undefined,
  ): DashboardSnapshot<A> {
    const allowed = options?.staleIfError
    const staleMs =
      allowed === undefined ? this.staleIfErrorMs : allowed === false ? -1 : toMs(allowed, 'staleIfError')
    const kept = this.kept.get(key)
    const now = Date.now()
    if (kept !== undefined && staleMs >= 0 && now - kept.currentAt <= staleMs) {
      this.staleReads++
      return Object.freeze({
        ...kept.snapshot,
        stale: true,
        ageMs: now - kept.currentAt,
        staleReason: reason,
      })
    }
    this.unavailableReads++
    const retryAfterMs = this.breaker.retryAfterMs()
    const why =
      reason === 'timeout'
        ? `Redis did not answer within ${timeoutMs} ms`
        : reason === 'circuit-open'
          ? `the read breaker is open after ${this.breakerThreshold} consecutive failures; next probe in ${Math.ceil(retryAfterMs)} ms`
          : `the Redis connection failed (${describeRedisFailure(this.redis, 'Redis', cause instanceof MetricsStreamError && cause.cause !== undefined ? cause.cause : cause)})`
    const held = kept === undefined ? 'no snapshot of this range is held' : 'the snapshot held is too old'
    throw new StreamUnavailableError(`Dashboard "${this.view.name}" unavailable: ${why}, and ${held}`, {
      view: this.view.name,
      reason,
      timeoutMs,
      retryAfterMs,
      cause,
    })
  }

  /** Keep `snapshot` as the range's last one (reusing the record: nothing allocated once kept). */
  private keep(key: string, snapshot: DashboardSnapshot<A>): void {
    const kept = this.kept.get(key)
    if (kept !== undefined) {
      kept.snapshot = snapshot
      kept.currentAt = Date.now()
      return
    }
    if (this.kept.size >= MAX_KEPT) {
      const oldest = this.kept.keys().next().value
      if (oldest !== undefined) this.kept.delete(oldest)
    }
    this.kept.set(key, { snapshot, currentAt: Date.now() })
  }

  /**
   * Empty the in-process copy. Its snapshots were current until now (the notices kept them so):
   * their kept records say so, so that a stale answer gives the true age.
   */
  private clearCache(): void {
    if (this.cache.size === 0) return
    this.clearedAt = Date.now()
    this.cache.forEach(this.markCurrent)
    this.cache.clear()
  }

  private readonly markCurrent = (snapshot: DashboardSnapshot<A>, key: string): void => {
    const kept = this.kept.get(key)
    if (kept !== undefined && kept.snapshot === snapshot) kept.currentAt = this.clearedAt
  }

  /** The subscriber link is lost or silent: no copy, no caching of reads in flight, wake subscribers. */
  private loseLink(): void {
    const was = this.subscribed
    this.subscribed = false
    this.clearCache()
    if (!was) return
    this.resets++
    for (const waiter of this.waiters) waiter('link')
  }

  /** The subscriber link answers again: notices may have been missed meanwhile. */
  private regainLink(): void {
    this.linkLost = false
    this.resets++
    this.subscribed = true
    for (const waiter of this.waiters) waiter('resync')
  }

  private listen(): Promise<void> {
    if (this.subscribing) return this.subscribing
    const channel = viewKeys(this.namespace, this.view.name, 1).channel
    const subscriber = this.subscriber ?? this.redis.duplicate()
    scrubRedisErrors(subscriber)
    this.subscriber = subscriber
    if (!this.attached) this.attach(subscriber, channel)
    this.subscribing = subscriber.subscribe(channel).then(
      () => {
        if (this.closed || this.subscribed) return
        // Subscribers that read before the subscription existed may have missed a change.
        this.regainLink()
      },
      (error: unknown) => {
        this.subscribing = undefined
        throw new MetricsStreamError('E_STREAM_REDIS', 'Subscribing to change notices failed', {
          view: this.view.name,
          retriable: true,
          cause: error,
        })
      },
    )
    return this.subscribing
  }

  private attach(subscriber: Redis | Cluster, channel: string): void {
    this.attached = true
    const drop = () => this.loseLink()
    subscriber.on('message', (from: string, message: string) => {
      if (from === channel) this.onNotice(message)
    })
    // The subscriber reconnects by itself; its connection errors are counted (`stats()`), and
    // while it is down the cache is off, so no stale figure can be served as current.
    subscriber.on('error', () => {
      this.subscriberErrors++
      drop()
    })
    subscriber.on('close', drop)
    subscriber.on('reconnecting', drop)
    subscriber.on('ready', () => {
      if (this.subscribed || this.closed) return
      // ioredis resubscribes on its own after a reconnect; confirm it, then resync every
      // subscriber since notices may have been missed while the connection was down.
      subscriber.subscribe(channel).then(() => {
        if (!this.subscribed && !this.closed) this.regainLink()
      }, drop)
    })
    // A Cluster's subscriber is one of its nodes' connections, not a client of its own to PING.
    const cluster = typeof (subscriber as Cluster).nodes === 'function'
    if (this.heartbeatMs > 0 && !cluster) {
      this.heartbeat = setInterval(this.beat, this.heartbeatMs)
      this.heartbeat.unref?.()
    }
  }

  /** One heartbeat: PING the subscriber connection within the read deadline. */
  private readonly beat = (): void => {
    const subscriber = this.subscriber as Redis | undefined
    // A connection that is not ready is already known down (its events turned the copy off).
    if (subscriber === undefined || this.closed || this.pinging || subscriber.status !== 'ready') return
    this.pinging = true
    this.deadlines.bound(subscriber.ping(), this.timeoutMs).then(this.answered, this.silent)
  }

  private readonly answered = (): void => {
    this.pinging = false
    if (this.linkLost && !this.closed) this.regainLink()
  }

  private readonly silent = (): void => {
    this.pinging = false
    if (this.closed) return
    this.subscriberErrors++
    if (!this.linkLost) {
      this.linkLost = true
      this.loseLink()
    }
    // Our own connection is reconnected in the background (a route that dropped packets may
    // never close it); a borrowed one is left to its owner, and answers again when it heals.
    if (this.ownsSubscriber) (this.subscriber as Redis | undefined)?.disconnect(true)
  }

  private onNotice(message: string): void {
    const notice = parseNotice(message)
    if (!notice) return
    if (notice.topic === '-') {
      // About the view itself (a promotion, a rebuild starting or ending): its version is the
      // state's current one, lower than the newest seen when the state was rebuilt after a loss.
      this.resets++
      this.generation = notice.generation
      this.noticed = notice.version
    } else if (notice.generation !== this.generation) {
      this.generation = notice.generation
      this.noticed = notice.version
    } else if (notice.version > this.noticed) {
      this.noticed = notice.version
    }
    this.clearCache()
    for (const listener of this.listeners) listener(notice)
    for (const waiter of this.waiters) waiter('notice')
  }

  private async fetch(params: ReadParams | undefined, attempt = 0): Promise<DashboardSnapshot<A>> {
    const generation = this.generation
    const keys = viewKeys(this.namespace, this.view.name, generation)
    const multi = this.redis.multi()
    multi.get(keys.pointer)
    multi.hmget(keys.meta, ...META_FIELDS)
    const decoders: Array<[string, Decoder]> = []
    for (const [name, aggregate] of Object.entries(this.view.aggregates) as Array<
      [string, Aggregate<unknown, unknown>]
    >) {
      decoders.push([name, this.plan(multi, keys, name, aggregate, params)])
    }
    let replies: unknown[]
    try {
      const result = await multi.exec()
      if (!result) throw new Error('MULTI aborted')
      replies = result.map(([error, value]) => {
        if (error) throw error
        return value
      })
    } catch (error) {
      throw new MetricsStreamError('E_STREAM_REDIS', 'Reading the dashboard failed', {
        view: this.view.name,
        retriable: true,
        cause: error,
      })
    }
    const pointer = replies[0] === null ? 1 : Number(replies[0])
    if (pointer !== generation && attempt === 0) {
      this.generation = pointer
      this.noticed = 0
      this.clearCache()
      return this.fetch(params, 1)
    }
    const figures: Record<string, unknown> = {}
    let index = 2
    for (const [name, decode] of decoders) {
      const [value, next] = decode(replies, index)
      figures[name] = value
      index = next
    }
    const meta = parseMeta(replies[1] as Array<string | null>)
    let progress: RebuildProgress | undefined
    if (meta.status === 'rebuilding') {
      try {
        progress = await readProgress(this.redis, keys, meta)
      } catch (error) {
        throw new MetricsStreamError('E_STREAM_REDIS', 'Reading the rebuild progress failed', {
          view: this.view.name,
          retriable: true,
          cause: error,
        })
      }
    }
    return Object.freeze({
      version: meta.version,
      generation,
      figures: Object.freeze(figures) as Figures<A>,
      status: meta.status,
      epoch: meta.epoch,
      progress,
      reason: meta.reason,
      stale: false,
      ageMs: 0,
      staleReason: undefined,
    })
  }

  private plan(
    multi: ReturnType<Redis['multi']>,
    keys: ViewKeys,
    name: string,
    aggregate: Aggregate<unknown, unknown>,
    params: ReadParams | undefined,
  ): Decoder {
    const grouped = aggregate.kind === 'count' || aggregate.kind === 'sum'
    const hasGroups = aggregate.dimensions.length > 0
    const queue = (key: string) => {
      if (grouped) multi.hgetall(key)
      else if (aggregate.kind === 'top') multi.zrevrange(key, 0, aggregate.size - 1, 'WITHSCORES')
      else multi.pfcount(key)
    }
    const decodeOne = (reply: unknown): unknown => {
      if (grouped) {
        const numbers = toNumbers(reply as Record<string, string>)
        return hasGroups ? numbers : (numbers._ ?? 0)
      }
      if (aggregate.kind === 'top') {
        const flat = reply as string[]
        const ranked: Ranked[] = []
        for (let i = 0; i < flat.length; i += 2)
          ranked.push({ member: flat[i] as string, score: Number(flat[i + 1]) })
        return ranked
      }
      return Number(reply)
    }
    const bucket = aggregate.bucket
    if (!bucket) {
      queue(keys.aggregate(name))
      return (replies, index) => [decodeOne(replies[index]), index + 1]
    }
    const labels = bucketLabels(bucket.unit, aggregate.readBuckets, params)
    for (const label of labels) queue(keys.aggregate(name, label))
    return (replies, index) => {
      const result: Record<string, unknown> = {}
      labels.forEach((label, i) => {
        const reply = replies[index + i]
        const empty = grouped
          ? Object.keys(reply as object).length === 0
          : aggregate.kind === 'top'
            ? (reply as unknown[]).length === 0
            : Number(reply) === 0
        if (!empty) result[label] = decodeOne(reply)
      })
      return [result, index + labels.length]
    }
  }
}

function bucketLabels(
  unit: 'hour' | 'day' | 'month',
  readBuckets: number,
  params: ReadParams | undefined,
): string[] {
  const to = bucketStart(unit, params?.to === undefined ? Date.now() : ms(params.to))
  let from: number
  if (params?.from !== undefined) {
    from = bucketStart(unit, ms(params.from))
  } else {
    from = to
    for (let i = 1; i < readBuckets; i++) {
      const d = new Date(from)
      from =
        unit === 'month'
          ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)
          : from - (unit === 'hour' ? 3_600_000 : 86_400_000)
    }
  }
  const labels: string[] = []
  for (let at = from; at <= to; at = nextBucket(unit, at)) {
    labels.push(bucketLabel(unit, at))
    if (labels.length > MAX_BUCKETS) {
      throw new MetricsStreamError('E_STREAM_INVALID_READ', `A read covers at most ${MAX_BUCKETS} buckets`)
    }
  }
  return labels
}

/** Create a {@link Dashboard} reading (and optionally caching and pushing) a view's figures. */
export function createDashboard<A extends Aggregates<any>>(options: DashboardOptions<A>): Dashboard<A> {
  return new Dashboard(options)
}

/**
 * All figures of a view in one Redis round trip, without a long-lived dashboard (no cache, no
 * subscription): `readDashboard({ redis, namespace, view }, { from, to })`.
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_READ` for a range over 1000 buckets,
 * `E_STREAM_REDIS` when Redis fails
 */
export function readDashboard<A extends Aggregates<any>>(
  options: Omit<DashboardOptions<A>, 'cache' | 'subscriber'>,
  params?: ReadParams,
): Promise<DashboardSnapshot<A>> {
  return new Dashboard({ ...options, cache: false }).read(params)
}
