/**
 * Auto-recovery: an invalidation that cannot reach Redis is not lost, and an instance does not
 * trust L2 again before the invalidations it (or a peer) holds have reached Redis.
 *
 * Deferral. An invalidation (`delete`, `expire`, `invalidateTags`, `expireTags`, `clear`) or an
 * invalidating bus notice (`set`, a refresh) whose Redis call fails is applied to this instance
 * at once (the cache does that before calling here), then kept in a bounded, deduplicated set
 * ({@link PendingInvalidations}). While the set is not empty the instance is *degraded*.
 *
 * Gate. While degraded, every L2 operation of the cache is refused at once
 * (`E_CACHE_L2_RECOVERING`, read as a miss or a skipped write), so the instance never serves an
 * L2 entry that one of its pending invalidations would remove, and never writes an entry whose
 * snapshot holds a version this instance bumped on its own. The same full gate holds while the
 * link is *lost* (the connection closed, the breaker opened, or the bus subscriber dropped).
 *
 * Replay. As soon as Redis answers (the connection's `ready`, else a retry every
 * `recoveryRetryInterval`, which bypasses the breaker), the set is replayed on the cache's own
 * connection, effects first (`DEL`, the compare-and-set demotion of `expire`, one script that
 * adds each tag's accumulated step), bus notices second. Every effect is idempotent or only
 * raises versions, so a replay that fails halfway is simply folded back and run again; a bump
 * that reached the server is not repeated (only its notice is). Invalidations deferred during a
 * replay are replayed next, before the gate opens.
 *
 * Hold. Peers that lost Redis at the same time may hold invalidations of their own, which they
 * replay when THEIR connection returns. So after its link returns an instance keeps refusing L2
 * reads (not writes: an entry written now carries versions read now, which any later replay
 * outdates) for `recoveryHold`. With the owned connection retrying at most every 100 ms while it
 * holds pending work, a peer's replay lands well inside the default 2 s. A peer cut off alone
 * (partitioned while the others still reach Redis) cannot be covered by anything: its
 * invalidations reach the others when it replays.
 *
 * Failover. With the failover check on (recovery/failover-check.ts), a check of the connection
 * that failed keeps the link lost, and the next attempt runs it again after its probe, before the
 * replay and before the gate opens: an instance never reads L2 on a server whose history it has
 * not compared with the namespace's.
 *
 * Costs nothing on the hot path: an L1 hit never looks at this module; an L2 read checks one
 * field of the tier.
 */
import type { BusMessage } from '../bus/bus.js'
import { L2UnavailableError } from '../errors.js'
import { channels, type RecoveryEvent } from '../observability/channels.js'
import type { RedisTier } from '../tiers/redis-tier.js'
import type { FailoverCheck } from './failover-check.js'
import { KeyEffect, PendingInvalidations } from './pending-invalidations.js'

/** Callbacks of auto-recovery into the cache. */
export interface RecoveryHooks {
  /** The bytes of `key`'s L2 entry demoted to stale, or undefined when nothing is to change. */
  demote(key: string, bytes: Buffer): Buffer | undefined
  /**
   * A replay's bumps reached the server with these versions. After an overflow (the set
   * collapsed into a generation bump) the cache first forgets its local tag table and L1.
   */
  applied(suffixes: readonly string[], versions: readonly number[], overflowed: boolean): void
  /** A replay notice was sent on the bus (counted and published like the cache's own). */
  published(message: BusMessage): void
}

/** Settings of {@link AutoRecovery}, resolved from the cache options. */
export interface RecoverySettings {
  namespace: string
  instanceId: string
  /** Whether the cache runs a bus (replays then send notices). */
  bus: boolean
  maxItems: number
  retryDelayMs: number
  holdMs: number
}

/** Keys and tags per `DEL`, bump script and bus notice of a replay. */
const CHUNK = 500
/** Compare-and-set demotions in flight at once during a replay. */
const EXPIRE_CONCURRENCY = 32
const DOWN = new Set(['reconnecting', 'close', 'end'])

/** See the module note. */
export class AutoRecovery {
  private queue: PendingInvalidations
  /** The batch being replayed (taken out of `queue`), counted as pending. */
  private inflight: PendingInvalidations | undefined
  /** When the oldest unreplayed invalidation was deferred (ms epoch); 0 when none. */
  private oldestAt = 0
  private lost = false
  /** Within `recoveryHold` after the link returned (ends when the hold timer fires). */
  private holdActive = false
  private running = false
  /** The attempt in flight (it never rejects), for close() to wait for. */
  private attempting: Promise<void> | undefined
  /** close() has begun: no new attempt or retry is started. */
  private closing = false
  private closed = false
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private holdTimer: ReturnType<typeof setTimeout> | undefined
  /** Whether L2 reads are refused (for the held/released events). */
  private readsHeld = false
  private readonly heldError: L2UnavailableError
  /** Replay rounds that succeeded. */
  replays = 0
  /** Invalidation slots (keys, tags, generation) replayed. */
  replayed = 0
  /** Times the bound collapsed the pending set into a generation bump. */
  overflows = 0
  /** Replay attempts that failed (retried). */
  replayFailures = 0
  /** The failover check, when on (its failed runs are retried by the attempts). */
  private failover: FailoverCheck | undefined

  constructor(
    private readonly tier: RedisTier,
    private readonly settings: RecoverySettings,
    private readonly hooks: RecoveryHooks,
  ) {
    this.queue = new PendingInvalidations(settings.maxItems)
    this.heldError = new L2UnavailableError(
      'E_CACHE_L2_RECOVERING',
      'Redis is bypassed until this instance has replayed its pending invalidations (and, after a lost link, for recoveryHold)',
    )
    tier.client.on('ready', this.kick)
    tier.client.on('close', this.onClose)
  }

  // ------------------------------------------------------------ state

  /** Invalidation slots not yet replayed (keys, tags, the generation). */
  get pending(): number {
    return this.queue.size + (this.inflight?.size ?? 0)
  }

  /** Age of the oldest unreplayed invalidation, ms (0 when none). */
  get oldestMs(): number {
    return this.oldestAt === 0 ? 0 : Date.now() - this.oldestAt
  }

  /** True while the instance holds unreplayed invalidations. */
  get degraded(): boolean {
    return this.pending > 0
  }

  /** True while only the hold refuses L2 reads: the link is back and nothing is pending. */
  get holding(): boolean {
    return !this.lost && this.pending === 0 && this.holdActive
  }

  /** True while L2 reads are refused (degraded, link lost, or within `recoveryHold`). */
  get l2Held(): boolean {
    return this.readsHeld
  }

  /** Run `check` again in every attempt after a failed run (see the module note). */
  verifyWith(check: FailoverCheck): void {
    this.failover = check
  }

  /** The failover check found another history: tell it on the recovery channel. */
  failedOver(): void {
    this.emit('failover', undefined)
  }

  // ------------------------------------------------------------ deferral

  /** Keep `effect` for `keys` (already applied to this instance). */
  deferKeys(keys: readonly string[], effect: KeyEffect, cause: unknown): void {
    if (keys.length === 0) return
    this.deferred(this.queue.addKeys(keys, effect), cause)
  }

  /** Keep a bump of `step` for each tag suffix (already applied to the local table). */
  deferTags(suffixes: readonly string[], step: number, cause: unknown): void {
    if (suffixes.length === 0) return
    this.deferred(this.queue.addTags(suffixes, step), cause)
  }

  /** Keep a `clear()` (a generation bump of `step`, already applied locally). */
  deferClear(step: number, cause: unknown): void {
    this.deferred(this.queue.addClear(step), cause)
  }

  private deferred(overflowed: boolean, cause: unknown): void {
    if (this.closed) return
    const first = this.oldestAt === 0
    if (first) this.oldestAt = Date.now()
    if (overflowed) {
      this.overflows++
      this.emit('overflow', cause)
    }
    if (first) this.emit('degraded', cause)
    this.refreshGate()
    // The failure may have been one slow answer on a live link: try again shortly.
    this.scheduleRetry()
  }

  // ------------------------------------------------------------ link state

  /**
   * The link to Redis was lost (connection closed, breaker opened, bus dropped): L2 is refused
   * until a probe succeeds, and the breaker reports open meanwhile (the gate keeps calls from
   * reaching it, so it would otherwise stay closed through a whole outage).
   */
  linkLost(): void {
    if (this.closed || this.lost) return
    this.lost = true
    this.refreshGate()
    this.tier.breaker.trip()
    this.scheduleRetry()
  }

  private readonly onClose = (): void => {
    this.linkLost()
  }

  /** Start an attempt now if one is needed and the connection can carry it. */
  private readonly kick = (): void => {
    if (this.closing || this.running) return
    if (!this.lost && this.pending === 0) return
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer)
      this.retryTimer = undefined
    }
    // A connection that is down cannot carry anything: its `ready` (or the next retry) kicks.
    if (DOWN.has(this.tier.client.status)) {
      this.scheduleRetry()
      return
    }
    const run: Promise<void> = this.attempt().finally(() => {
      if (this.attempting === run) this.attempting = undefined
    })
    this.attempting = run
  }

  private scheduleRetry(): void {
    if (this.closing || this.retryTimer !== undefined || this.running) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.kick()
    }, this.settings.retryDelayMs)
    this.retryTimer.unref?.()
  }

  /** A PING, then one replay of everything pending. */
  private async attempt(): Promise<void> {
    this.running = true
    let ok = false
    try {
      // PING first: on a hung link a replay's commands would pile up in the socket and all run
      // when it heals (harmless, versions only rise, but each attempt would bump once more).
      await this.tier.runRecovery('probe', () => this.tier.client.ping())
      if (this.failover?.needed) await this.failover.check()
      if (this.queue.size > 0) await this.replayAll()
      ok = true
    } catch (error) {
      this.replayFailures++
      this.emit('replay-failed', error)
    } finally {
      this.running = false
    }
    if (this.closed) return
    if (ok) this.linkBack()
    if (ok && this.queue.size > 0) this.kick()
    else if (this.lost || this.pending > 0) this.scheduleRetry()
  }

  private linkBack(): void {
    if (this.lost) {
      this.lost = false
      if (this.settings.holdMs > 0) {
        this.holdActive = true
        if (this.holdTimer !== undefined) clearTimeout(this.holdTimer)
        this.holdTimer = setTimeout(() => {
          this.holdTimer = undefined
          this.holdActive = false
          this.refreshGate()
        }, this.settings.holdMs)
        this.holdTimer.unref?.()
      }
    }
    this.refreshGate()
  }

  /** Point the tier's gates at the current state (see the module note). */
  private refreshGate(): void {
    const full = this.pending > 0 || this.lost
    const reads = full || this.holdActive
    this.tier.gate = full ? this.heldError : undefined
    this.tier.readGate = reads ? this.heldError : undefined
    // While invalidations wait, the owned connection reconnects at most 100 ms apart.
    this.tier.reconnectSoon = this.pending > 0
    if (reads !== this.readsHeld) {
      this.readsHeld = reads
      this.emit(reads ? 'held' : 'released', undefined)
    }
  }

  // ------------------------------------------------------------ replay

  private async replayAll(): Promise<void> {
    while (this.queue.size > 0 && !this.closed) {
      const batch = this.queue
      this.queue = new PendingInvalidations(this.settings.maxItems)
      this.inflight = batch
      const started = performance.now()
      try {
        await this.replay(batch)
      } catch (error) {
        if (this.queue.absorb(batch)) this.overflows++
        throw error
      } finally {
        this.inflight = undefined
      }
      this.replays++
      this.replayed += batch.size
      if (this.queue.size === 0) {
        const age = this.oldestMs
        this.oldestAt = 0
        // A replay that went through is the link back: pending and lost clear together.
        this.linkBack()
        this.emit('recovered', undefined, batch.size, performance.now() - started, age)
      }
    }
  }

  private async replay(batch: PendingInvalidations): Promise<void> {
    const tier = this.tier
    const keys = tier.keys
    const deletes: string[] = []
    const expires: string[] = []
    const drops: string[] = []
    for (const [key, effect] of batch.keys) {
      if (effect === KeyEffect.Delete) deletes.push(key)
      else if (effect === KeyEffect.Expire) expires.push(key)
      else drops.push(key)
    }
    for (let i = 0; i < deletes.length; i += CHUNK) {
      const chunk = deletes.slice(i, i + CHUNK).map((key) => keys.entry(key))
      await tier.runRecovery('replay', () => tier.client.del(...chunk))
    }
    for (let i = 0; i < expires.length; i += EXPIRE_CONCURRENCY) {
      await Promise.all(expires.slice(i, i + EXPIRE_CONCURRENCY).map((key) => this.replayExpire(key)))
    }
    const pairs: Array<[string, number]> = []
    if (batch.tags.size > 0) {
      const suffixes = [...batch.tags.keys()]
      for (let i = 0; i < suffixes.length; i += CHUNK) {
        const chunk = suffixes.slice(i, i + CHUNK)
        const steps = chunk.map((s) => batch.tags.get(s) ?? 0)
        const versions = await tier.runRecovery('replay', () =>
          tier.client.ayalaCacheBumpEach(chunk.length, ...chunk.map((s) => keys.tag(s)), ...steps),
        )
        for (let k = 0; k < chunk.length; k++) pairs.push([chunk[k] as string, Number(versions[k] ?? 0)])
      }
      batch.markBumped()
      this.hooks.applied(
        pairs.map((p) => p[0]),
        pairs.map((p) => p[1]),
        batch.overflowed,
      )
    }
    if (!this.settings.bus) return
    const dropped = [...deletes, ...drops]
    const messages: BusMessage[] = []
    const at = Date.now()
    const i = this.settings.instanceId
    if (pairs.length > 0 || batch.clear) {
      for (let k = 0; k < Math.max(pairs.length, 1); k += CHUNK) {
        messages.push({ i, at, t: pairs.slice(k, k + CHUNK), ...(batch.clear && k === 0 ? { c: 1 } : {}) })
      }
    }
    for (let k = 0; k < dropped.length; k += CHUNK) messages.push({ i, at, d: dropped.slice(k, k + CHUNK) })
    for (let k = 0; k < expires.length; k += CHUNK) messages.push({ i, at, x: expires.slice(k, k + CHUNK) })
    for (const message of messages) {
      await tier.runRecovery('replay', () => tier.client.publish(keys.channel, JSON.stringify(message)))
      this.hooks.published(message)
    }
  }

  /** The compare-and-set demotion of `expire` (tiers/redis-tier.ts), replayed. */
  private replayExpire(key: string): Promise<void> {
    return this.tier.demoteEntry(this.tier.keys.entry(key), (bytes) => this.hooks.demote(key, bytes), true)
  }

  // ------------------------------------------------------------ events and lifetime

  private emit(
    state: RecoveryEvent['state'],
    error: unknown,
    replayed?: number,
    durationMs?: number,
    ageMs?: number,
  ): void {
    if (!channels.recovery.hasSubscribers) return
    const event: RecoveryEvent = {
      namespace: this.settings.namespace,
      state,
      pending: this.pending,
      oldestMs: ageMs ?? this.oldestMs,
      l2Held: this.readsHeld,
    }
    if (error !== undefined) event.error = error
    if (replayed !== undefined) event.replayed = replayed
    if (durationMs !== undefined) event.durationMs = durationMs
    channels.recovery.publish(event)
  }

  /**
   * Stop. An attempt in flight is waited for (each of its commands is bounded by `redisTimeout`,
   * and it stops at its first failure), then one last replay is attempted when invalidations are
   * still pending (bounded the same way); returns how many slots are dropped unreplayed.
   */
  async close(): Promise<number> {
    this.closing = true
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.tier.client.off('ready', this.kick)
    this.tier.client.off('close', this.onClose)
    // Before, close() skipped its replay when an attempt was running and marked the recovery
    // closed, which stopped that attempt before its replay: what it held was dropped.
    if (this.attempting !== undefined) await this.attempting
    if (this.queue.size > 0 && !DOWN.has(this.tier.client.status)) {
      try {
        await this.replayAll()
      } catch (error) {
        this.replayFailures++
        this.emit('replay-failed', error)
      }
    }
    if (this.holdTimer !== undefined) clearTimeout(this.holdTimer)
    this.holdTimer = undefined
    this.closed = true
    const dropped = this.pending
    if (dropped > 0) this.emit('dropped', undefined)
    return dropped
  }
}
