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
 */
import type { Cluster, Redis } from 'ioredis'
import { bucketLabel, bucketStart, nextBucket } from '../aggregates/buckets.js'
import type { Aggregate, Aggregates, Figures, Ranked, View } from '../aggregates/define.js'
import { MetricsStreamError } from '../errors.js'
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
}

/** Defaults of {@link DashboardOptions}. */
export const DEFAULT_DASHBOARD_OPTIONS = Object.freeze({ cache: true })

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
}

/** One update yielded by {@link Dashboard.subscribe}. */
export interface DashboardUpdate<A> extends DashboardSnapshot<A> {
  /**
   * True when this snapshot resynchronizes: versions were skipped (missed notices, reconnect), the
   * state was rebuilt (a new epoch), or a rebuild just completed (`status` back to `live`).
   */
  readonly resync: boolean
  /** True when `status` differs from the previous update's (always true for the first). */
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
  private subscriber: Redis | Cluster | undefined
  private subscribing: Promise<void> | undefined
  private subscribed = false
  private generation = 1
  private noticed = 0
  /** Bumped by every notice about the view itself: a read that started before one is not cached. */
  private resets = 0
  private closed = false
  private subscriberErrors = 0
  private attached = false
  private readonly cache = new Map<string, DashboardSnapshot<A>>()
  private readonly waiters = new Set<(reason: 'notice' | 'resync' | 'close') => void>()
  private readonly keysOf = (generation: number) => viewKeys(this.namespace, this.view.name, generation)
  private readonly listeners = new Set<(notice: ChangeNotice) => void>()

  constructor(options: DashboardOptions<A>) {
    this.redis = options.redis
    this.view = options.view
    this.namespace = options.namespace
    this.useCache = options.cache ?? DEFAULT_DASHBOARD_OPTIONS.cache
    this.ownsSubscriber = options.subscriber === undefined
    this.subscriber = options.subscriber
    viewKeys(this.namespace, this.view.name, 1)
  }

  /**
   * All figures of the view in one Redis round trip (microseconds from the in-process copy when
   * the cache is on and nothing changed since).
   *
   * @throws MetricsStreamError `E_STREAM_INVALID_READ` for a bucket range over 1000 buckets,
   * `E_STREAM_REDIS` when Redis fails, `E_STREAM_CLOSED` after `close()`
   */
  async read(params?: ReadParams): Promise<DashboardSnapshot<A>> {
    if (this.closed) throw new MetricsStreamError('E_STREAM_CLOSED', 'The dashboard is closed')
    if (!this.useCache) return this.fetch(params)
    const key =
      params === undefined
        ? ''
        : `${params.from === undefined ? '' : ms(params.from)}|${params.to === undefined ? '' : ms(params.to)}`
    if (this.subscribed) {
      const hit = this.cache.get(key)
      if (hit !== undefined) return hit
    } else if (this.subscribing === undefined) {
      // Start listening without making this read wait for it: caching begins once subscribed.
      this.listen().catch(() => {
        this.subscriberErrors++
      })
    }
    const resets = this.resets
    const snapshot = await this.fetch(params)
    if (
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
   * one round trip, progress in a second one while rebuilding), not the cache.
   *
   * @throws MetricsStreamError `E_STREAM_REDIS` when Redis fails, `E_STREAM_CLOSED` after `close()`
   */
  async health(): Promise<DashboardHealth> {
    if (this.closed) throw new MetricsStreamError('E_STREAM_CLOSED', 'The dashboard is closed')
    let view: ViewState
    try {
      view = await readViewState(this.redis, this.keysOf)
    } catch (error) {
      throw new MetricsStreamError('E_STREAM_REDIS', "Reading the view's state failed", {
        view: this.view.name,
        retriable: true,
        cause: error,
      })
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
   * is in flight), versions strictly increasing. Ends when `signal` aborts or on `close()`.
   */
  async *subscribe(
    params?: ReadParams,
    options?: { signal?: AbortSignal | undefined },
  ): AsyncGenerator<DashboardUpdate<A>> {
    const signal = options?.signal
    let pending: 'notice' | 'resync' | 'close' | undefined
    let wake: (() => void) | undefined
    const waiter = (reason: 'notice' | 'resync' | 'close') => {
      if (pending !== 'close' && pending !== 'resync') pending = reason
      wake?.()
    }
    const onAbort = () => waiter('close')
    this.waiters.add(waiter)
    signal?.addEventListener('abort', onAbort)
    try {
      await this.listen()
      let last: DashboardSnapshot<A> | undefined
      let resync = false
      while (!this.closed && !signal?.aborted) {
        const snapshot = await this.read(params)
        const sameState =
          last !== undefined && snapshot.generation === last.generation && snapshot.epoch === last.epoch
        const statusChanged = last === undefined || snapshot.status !== last.status
        const newer = !sameState || statusChanged || snapshot.version > (last as DashboardSnapshot<A>).version
        if (newer) {
          const gap = sameState && snapshot.version > (last as DashboardSnapshot<A>).version + 1
          // A new epoch (the state was rebuilt) or a rebuild that just completed replaces what the
          // subscriber holds.
          const rebuilt =
            last !== undefined &&
            (snapshot.epoch !== last.epoch || (statusChanged && snapshot.status === 'live'))
          yield { ...snapshot, resync: resync || gap || rebuilt, statusChanged }
          last = snapshot
          resync = false
        }
        if (pending === undefined) {
          await new Promise<void>((done) => {
            wake = done
          })
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

  /** Whether the in-process copy is in use (subscribed), cached read ranges and subscriber errors. */
  stats(): { subscribed: boolean; cachedRanges: number; subscriberErrors: number } {
    return {
      subscribed: this.subscribed,
      cachedRanges: this.cache.size,
      subscriberErrors: this.subscriberErrors,
    }
  }

  /** Stop listening and release the subscriber connection (if the dashboard created it). */
  async close(): Promise<void> {
    this.closed = true
    for (const waiter of this.waiters) waiter('close')
    this.cache.clear()
    const subscriber = this.subscriber
    this.subscriber = undefined
    if (subscriber && this.ownsSubscriber) subscriber.disconnect()
    else if (subscriber) await subscriber.unsubscribe(viewKeys(this.namespace, this.view.name, 1).channel)
  }

  private listen(): Promise<void> {
    if (this.subscribing) return this.subscribing
    const channel = viewKeys(this.namespace, this.view.name, 1).channel
    const subscriber = this.subscriber ?? this.redis.duplicate()
    this.subscriber = subscriber
    if (!this.attached) this.attach(subscriber, channel)
    this.subscribing = subscriber.subscribe(channel).then(
      () => {
        this.subscribed = true
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
    const drop = () => {
      this.subscribed = false
      this.cache.clear()
    }
    subscriber.on('message', (from: string, message: string) => {
      if (from === channel) this.onNotice(message)
    })
    // The subscriber reconnects by itself; its connection errors are counted (`stats()`), and
    // while it is down the cache is off, so no stale figure can be served.
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
        this.subscribed = true
        for (const waiter of this.waiters) waiter('resync')
      }, drop)
    })
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
    this.cache.clear()
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
      this.cache.clear()
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
