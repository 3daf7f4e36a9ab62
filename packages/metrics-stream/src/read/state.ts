/**
 * The dashboard's shared state: what the read, the in-process copy, the stale answers and the
 * subscription all read and change, in one object handed to each mechanism file (`fetch.ts`,
 * `copy.ts`, `bounded.ts`, `subscription.ts`, `subscribe.ts`); the facade (`dashboard.ts`)
 * creates it and keeps the public methods.
 *
 * The coherence rule lives in three fields: `subscribed` (notices flow, so the copy may be used),
 * `noticed` (the newest version a notice announced) and `resets` (bumped by every notice about
 * the view itself and every loss or return of the subscriber link). A read is stored in the copy
 * only if it is at least `noticed`, of the current `generation`, and no reset happened while it
 * was in flight (see `copy.ts`).
 */
import type { Cluster, Redis } from 'ioredis'
import type { Aggregates, View } from '../aggregates/define.js'
import { type ViewKeys, viewKeys } from '../keys.js'
import { CircuitBreaker } from './circuit-breaker.js'
import { Deadlines } from './deadlines.js'
import type { DashboardOptions, ResolvedDashboardOptions } from './options.js'
import type { ChangeNotice, DashboardSnapshot } from './snapshot.js'

/** The last snapshot of a read range, and when it was last known current (epoch ms). @internal */
export interface Kept<A> {
  snapshot: DashboardSnapshot<A>
  currentAt: number
}

/** Why a subscriber wakes up (`subscribe.ts`). @internal */
export type Wake = 'notice' | 'link' | 'resync' | 'close'

/** The state every mechanism of the dashboard shares (see the module note). @internal */
export class DashboardState<A extends Aggregates<any>> {
  readonly redis: Redis | Cluster
  readonly view: View<any, any, A>
  readonly namespace: string
  readonly useCache: boolean
  readonly ownsSubscriber: boolean
  readonly timeoutMs: number
  readonly cooldownMs: number
  /** -1: no stale answers. */
  readonly staleIfErrorMs: number
  /** 0: no heartbeat. */
  readonly heartbeatMs: number
  readonly breakerThreshold: number
  readonly breaker: CircuitBreaker
  /** One watchdog timer for every bounded call of this dashboard. */
  readonly deadlines = new Deadlines()
  subscriber: Redis | Cluster | undefined
  subscribing: Promise<void> | undefined
  /** Notices flow: the in-process copy may be used and filled. */
  subscribed = false
  /** The generation readers use, as last read or announced. */
  generation = 1
  /** The newest version a notice announced (of `generation`). */
  noticed = 0
  /**
   * Bumped by every notice about the view itself and every loss or return of the subscriber
   * link: a read that started before one is not cached.
   */
  resets = 0
  closed = false
  subscriberErrors = 0
  readFailures = 0
  staleReads = 0
  unavailableReads = 0
  /** The subscriber's listeners are attached (once). */
  attached = false
  /** The heartbeat found the subscriber link silent; cleared when it answers or reconnects. */
  linkLost = false
  pinging = false
  heartbeat: ReturnType<typeof setInterval> | undefined
  /** When the copy was last emptied (its snapshots were current until then). */
  clearedAt = 0
  /** The in-process copy: the latest snapshot per read range, emptied by every notice. */
  readonly cache = new Map<string, DashboardSnapshot<A>>()
  /** The last snapshot of each read range, for stale answers (kept apart from the coherent copy). */
  readonly kept = new Map<string, Kept<A>>()
  /** Subscribers waiting for their next wake-up. */
  readonly waiters = new Set<(reason: Wake) => void>()
  /** `onChange` listeners. */
  readonly listeners = new Set<(notice: ChangeNotice) => void>()
  readonly keysOf = (generation: number): ViewKeys => viewKeys(this.namespace, this.view.name, generation)
  /** Counts a failed SUBSCRIBE (a rejection handler, allocated once). */
  readonly countSubscriberError = (): void => {
    this.subscriberErrors++
  }

  constructor(options: DashboardOptions<A>, resolved: ResolvedDashboardOptions) {
    this.redis = options.redis
    this.view = options.view
    this.namespace = options.namespace
    this.ownsSubscriber = options.subscriber === undefined
    this.subscriber = options.subscriber
    this.useCache = resolved.useCache
    this.timeoutMs = resolved.timeoutMs
    this.cooldownMs = resolved.cooldownMs
    this.staleIfErrorMs = resolved.staleIfErrorMs
    this.heartbeatMs = resolved.heartbeatMs
    this.breakerThreshold = resolved.breakerThreshold
    this.breaker = new CircuitBreaker(this.breakerThreshold, this.cooldownMs)
  }
}
