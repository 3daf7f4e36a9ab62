/**
 * The state every mechanism of the cache shares, in one object (bentocache's `CacheStack` is the
 * pattern): the tiers, the bus, auto-recovery, the key space, the codec, the local tag table, the
 * flights, the lease waiters, the counters and the resolved options. Each mechanism is a family
 * of functions that take the stack (get-set/, read/, stampede/, entries/, bus/coherence.ts,
 * invalidation/); none holds state of its own, and none imports the facade, so the imports run
 * one way: facade -> mechanisms -> stack.
 *
 * The stack builds the tiers, but the callbacks the tiers call into (bus messages, bus state,
 * auto-recovery's demotion and replay) are mechanisms: the facade hands them in as
 * {@link StackHooks}, so this module imports none of them.
 *
 * `seq` is the L1 sequence number: bumped whenever this instance learns something that may
 * invalidate L1 records (a higher tag version, a bus disconnect). A record stamped with the
 * current `seq` needs no check against the tag table (the facade's inlined L1 hit); any other is
 * checked once (entries/entry.ts) and stamped again.
 */
import { randomBytes } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { Bus, type BusMessage } from './bus/bus.js'
import { type PeerAcknowledgement, PeerAcks } from './bus/peer-acks.js'
import { type CallOptions, callDefaults } from './call-options.js'
import { CacheClosedError, InvalidOptionError, L2UnavailableError } from './errors.js'
import { GENERATION_SUFFIX, KeySpace } from './keys.js'
import { channels } from './observability/channels.js'
import { type CacheOptions, type ResolvedCacheOptions, resolveCacheOptions } from './options.js'
import { AutoRecovery } from './recovery/auto-recovery.js'
import { FailoverCheck, failoverCheckWanted } from './recovery/failover-check.js'
import type { KeyEffect } from './recovery/pending-invalidations.js'
import { type Codec, msgpackCodec } from './serialization/msgpack-codec.js'
import { LocalTagVersions } from './tags/tag-versions.js'
import type { BreakerState } from './tiers/circuit-breaker.js'
import { l2Error } from './tiers/redis-connection.js'
import { RedisTier } from './tiers/redis-tier.js'

/** An L1 entry. */
export interface L1Record {
  value: unknown
  /** L1 freshness (ms epoch). */
  freshUntil: number
  /** Usable as a grace fallback until (ms epoch). */
  staleUntil: number
  /** Tag suffixes, the generation first. */
  tags: readonly string[]
  /** Snapshot versions aligned with `tags`. */
  versions: readonly number[]
  /** `seq` at which this record was last checked against the tag table; -1: never. */
  seq: number
  /**
   * {@link CacheStack.demotions} when the record was stored: a record stored before the latest
   * demotion is stale. A counter, not a time, so that it stays a small integer (no heap number per
   * record) and orders a fill and a demotion within the same millisecond.
   */
  epoch: number
}

/** The load of one key, shared by every caller that misses it meanwhile (coalescing). */
export interface Flight {
  promise: Promise<unknown>
  /** Set by delete/clear while the load runs: its result is returned but not stored. */
  invalidated: boolean
  /**
   * True once the flight's value can only come from a loader (a refresh, or a loader started):
   * a `refresh` caller joins such a flight, never one that may still answer from the cache.
   */
  loading: boolean
  /**
   * A refresh: after storing, tell the other instances to drop their L1 copy (they may hold the
   * value this load overwrites), as `set` does.
   */
  announce: boolean
  /** The load still running after its callers were served stale (soft/hard timeout). */
  background?: Promise<unknown> | undefined
  /** The load's tag suffixes, generation first (as in `CallOptions.tagSuffixes`). */
  tagSuffixes: readonly string[]
  /**
   * The versions of {@link tagSuffixes} the load's value is valid for: the server's once read
   * (its snapshot), before that the ones this instance knew when it started. A bump past them
   * means an invalidation that this value predates: no later caller may join (see `joinable`).
   */
  versions: readonly number[]
  /** `seq` at which {@link versions} were last found current: the joiner's fast path. */
  seq: number
}

/** A value that may be served: fresh, or stale within grace. */
export interface Candidate {
  value: unknown
  staleUntil: number
}

/** A caller waiting for another process's lease: woken by a release notice on the bus. */
export interface LeaseWaiter {
  /** A notice arrived since the waiter's last check. */
  notified: boolean
  /** Ends the current wait early; set only while waiting. */
  wake: (() => void) | undefined
}

/** The mechanisms the tiers call back into, handed in by the facade (see the module note). */
export interface StackHooks {
  onBusMessage(stack: CacheStack, message: BusMessage): void
  onBusState(stack: CacheStack, connected: boolean): void
  /** `bytes` (the L2 entry of `key`) made stale now, or undefined when nothing is to change. */
  demote(stack: CacheStack, key: string, bytes: Buffer): Buffer | undefined
  /** A replay's bumps reached the server (see recovery/auto-recovery.ts). */
  replayed(
    stack: CacheStack,
    suffixes: readonly string[],
    versions: readonly number[],
    overflowed: boolean,
  ): void
  /** A replay notice was sent on the bus. */
  published(stack: CacheStack, message: BusMessage): void
}

/** See the module note. */
export class CacheStack {
  /** The validated options, frozen. */
  readonly options: ResolvedCacheOptions
  /** This instance's id on the bus. */
  readonly instanceId: string
  readonly l1: LRUCache<string, L1Record>
  readonly l2: RedisTier | undefined
  readonly bus: Bus | undefined
  /** The invalidations waiting for their peers' confirmations (with the bus only). */
  readonly acks: PeerAcks | undefined
  /**
   * Keys whose L1 fill is refused until the time given (ms epoch): dropped or expired by a
   * notice this instance confirmed (bus/coherence.ts), in insertion order.
   */
  readonly refusedFills = new Map<string, number>()
  /** Keeps and replays invalidations that could not reach Redis (with `redis` only). */
  readonly recovery: AutoRecovery | undefined
  /** Compares Redis's replication history at each connection (`failoverCheck`). */
  readonly failover: FailoverCheck | undefined
  readonly keys: KeySpace
  readonly codec: Codec
  /** Highest tag versions seen (tags/tag-versions.ts). */
  readonly tags = new LocalTagVersions()
  readonly flights = new Map<string, Flight>()
  /** Processes waiting here for another process's lease, by key (stampede/lease.ts). */
  readonly leaseWaiters = new Map<string, Set<LeaseWaiter>>()
  /** What a call without options uses. */
  readonly defaults: CallOptions
  /** `l1Values: 'clone'`. */
  readonly clone: boolean
  /** See the module note. */
  seq = 0
  /**
   * Bus-down demotions so far (the bus went down or came back): L1 records stored before the
   * latest one (`record.epoch` below it) are stale.
   */
  demotions = 0
  closed = false
  busWasDown = false
  leaseCounter = 0
  readonly counters = {
    l1Hits: 0,
    l2Hits: 0,
    misses: 0,
    staleServed: 0,
    loaderCalls: 0,
    loaderErrors: 0,
    loaderTimeMs: 0,
    coalesced: 0,
    leaseWaits: 0,
    busIn: 0,
    busOut: 0,
    busLastLagMs: 0,
    peerWaits: 0,
    peerAcksIn: 0,
    peerAcksOut: 0,
    peersUnconfirmed: 0,
    l2Errors: 0,
    corruptEntries: 0,
  }

  constructor(options: CacheOptions, hooks: StackHooks) {
    this.options = resolveCacheOptions(options)
    const o = this.options
    this.codec = options.codec ?? msgpackCodec()
    this.keys = new KeySpace(o.prefix, o.namespace)
    this.instanceId = randomBytes(8).toString('hex')
    this.clone = o.l1Values === 'clone'
    this.l1 = new LRUCache<string, L1Record>({
      max: o.l1MaxEntries,
      ...(o.l1MaxBytes > 0 ? { maxSize: o.l1MaxBytes } : {}),
      ttlAutopurge: false,
      updateAgeOnGet: false,
      allowStale: false,
    })
    this.defaults = callDefaults(o)
    if (options.redis === undefined) return
    try {
      this.l2 = new RedisTier(
        options.redis,
        this.keys,
        o.redisTimeout,
        o.breakerThreshold,
        o.breakerCooldown,
        {
          onError: (operation, error) => this.onL2Error(operation, error),
          onBreaker: (state) => this.onBreaker(state),
        },
        options.redisOptions,
        o.connectTimeout,
        o.invalidationTimeout,
      )
    } catch (error) {
      if (error instanceof TypeError) throw new InvalidOptionError('redis', error.message)
      throw error
    }
    this.recovery = new AutoRecovery(
      this.l2,
      {
        namespace: o.namespace,
        instanceId: this.instanceId,
        bus: o.bus,
        maxItems: o.recoveryMaxItems,
        retryDelayMs: o.recoveryRetryInterval,
        holdMs: o.recoveryHold,
      },
      {
        demote: (key, bytes) => hooks.demote(this, key, bytes),
        applied: (suffixes, versions, overflowed) => hooks.replayed(this, suffixes, versions, overflowed),
        published: (message) => hooks.published(this, message),
      },
    )
    if (failoverCheckWanted(this.l2.client, o.failoverCheck)) {
      const recovery = this.recovery
      this.failover = new FailoverCheck(this.l2, {
        // Another history: like a replay after an overflow, L1 and the local table start over.
        changed: (generation) => {
          hooks.replayed(this, [GENERATION_SUFFIX], [generation], true)
          recovery.failedOver()
        },
        unverified: () => recovery.linkLost(),
        failed: (error) => this.onL2Error('failoverCheck', error),
      })
      recovery.verifyWith(this.failover)
    }
    if (o.bus) {
      const client = this.l2.client
      this.acks = new PeerAcks(this.instanceId, (id, ack) => this.onPeersSettled(id, ack))
      const acks = this.acks
      this.bus = new Bus(
        client,
        this.keys.channel,
        this.instanceId,
        {
          onMessage: (message) => hooks.onBusMessage(this, message),
          onConnected: () => hooks.onBusState(this, true),
          onDisconnected: () => hooks.onBusState(this, false),
          onError: (error) => this.onL2Error('bus', l2Error(client, 'Redis bus error', error)),
          onAck: (id) => {
            if (acks.confirm(id)) this.counters.peerAcksIn++
          },
        },
        o.busHeartbeatInterval,
      )
    }
  }

  // ---------------------------------------------------------------- rules every mechanism uses

  /** Record a tag version seen on the server; a higher one outdates L1 checks (`seq`). */
  observe(suffix: string, version: number): void {
    if (this.tags.observe(suffix, version)) this.seq++
  }

  observeAll(suffixes: readonly string[], versions: readonly number[]): void {
    for (let i = 0; i < suffixes.length; i++) this.observe(suffixes[i] as string, versions[i] ?? 0)
  }

  /** A new flight of a load tagged `tagSuffixes` (not registered; the caller sets its promise). */
  flight(tagSuffixes: readonly string[], refresh: boolean): Flight {
    return {
      promise: undefined as unknown as Promise<unknown>,
      invalidated: false,
      loading: refresh,
      announce: refresh,
      tagSuffixes,
      versions: this.tags.snapshot(tagSuffixes),
      seq: this.seq,
    }
  }

  /**
   * The load of `key` a caller arriving now may join (coalescing), if any. Not one that was
   * invalidated (delete, clear, a bus notice) nor one whose tags were bumped past its versions
   * since it started: it read the data before that invalidation returned, and a read that
   * starts after it must not get the value it replaced (its own callers still do). The caller
   * then starts a load of its own, which takes the key's place.
   */
  joinable(key: string): Flight | undefined {
    const flight = this.flights.get(key)
    if (flight === undefined || flight.invalidated) return undefined
    if (flight.seq === this.seq) return flight
    const { tagSuffixes, versions } = flight
    for (let i = 0; i < tagSuffixes.length; i++) {
      if (this.tags.get(tagSuffixes[i] as string) > (versions[i] ?? 0)) return undefined
    }
    flight.seq = this.seq
    return flight
  }

  /** The load of `key` running now, if any, stores nothing (its callers still get its value). */
  invalidateFlight(key: string): void {
    const flight = this.flights.get(key)
    if (flight !== undefined) flight.invalidated = true
  }

  /** Every running load stores nothing (`clear`, a bus `c`, a replay after an overflow). */
  invalidateFlights(): void {
    for (const flight of this.flights.values()) flight.invalidated = true
  }

  /**
   * Refuse L1 fills of `keys` for `redisTimeout`: an L2 read sent before their invalidation
   * answers within that bound (or is abandoned), so no fill of the replaced value lands after.
   */
  refuseFills(keys: readonly unknown[]): void {
    const until = Date.now() + this.options.redisTimeout
    for (const key of keys) {
      if (typeof key !== 'string') continue
      this.refusedFills.delete(key)
      this.refusedFills.set(key, until)
    }
  }

  /** Whether an L1 fill of `key` is refused now (see {@link refuseFills}); expired marks are purged. */
  fillRefused(key: string, now: number): boolean {
    for (const [k, until] of this.refusedFills) {
      if (until > now) break
      this.refusedFills.delete(k)
    }
    const until = this.refusedFills.get(key)
    return until !== undefined && until > now
  }

  private onPeersSettled(id: string, ack: PeerAcknowledgement): void {
    this.counters.peerWaits++
    this.counters.peersUnconfirmed += ack.unconfirmed
    if (channels.peers.hasSubscribers)
      channels.peers.publish({ namespace: this.options.namespace, id, ...ack })
  }

  /**
   * The versions of an untagged L1 record (the generation's alone), shared by every such record
   * stored at the same generation version: one array per generation, not one per entry (records
   * never change their versions).
   */
  generationOnly(versions: readonly number[]): readonly number[] {
    if (versions.length !== 1) return versions
    const shared = this.sharedGeneration
    if (shared[0] === versions[0]) return shared
    // A copy of its own, frozen: the caller's array stays the caller's, and a write into the
    // shared one (which every untagged record of the generation holds) fails loudly.
    this.sharedGeneration = Object.freeze([versions[0] as number])
    return this.sharedGeneration
  }

  private sharedGeneration: readonly number[] = []

  /** An L1 record's value as a caller gets it (`l1Values: 'clone'`: a copy). */
  out(record: L1Record): unknown {
    return this.clone ? structuredClone(record.value) : record.value
  }

  /** Counts an L1 hit taken off the facade's inlined fast paths and publishes it when someone listens. */
  l1Hit(key: string): void {
    this.counters.l1Hits++
    if (channels.hit.hasSubscribers)
      channels.hit.publish({ namespace: this.options.namespace, key, tier: 'l1' })
  }

  /** An invalidating effect that did not reach Redis: kept for a replay; any other error tolerated. */
  keep(error: unknown, keys: string[], effect: KeyEffect): void {
    if (error instanceof L2UnavailableError && this.recovery !== undefined && !this.closed)
      this.recovery.deferKeys(keys, effect, error)
    else this.tolerate(error)
  }

  /** Errors deliberately tolerated (best-effort L2 writes, background refreshes): counted and emitted. */
  readonly tolerate = (error: unknown): void => {
    if (error instanceof L2UnavailableError) return // already counted and emitted by the tier
    this.counters.l2Errors++
    if (channels.error.hasSubscribers) {
      channels.error.publish({ namespace: this.options.namespace, operation: 'background', error })
    }
  }

  /** Batch flights reject their joiners with the batch's error; the batch caller gets it too. */
  readonly swallowFlightError = (error: unknown): void => {
    if (channels.error.hasSubscribers) {
      channels.error.publish({ namespace: this.options.namespace, operation: 'batch', error })
    }
  }

  assertOpen(): void {
    if (this.closed) throw new CacheClosedError()
  }

  private onL2Error(operation: string, error: L2UnavailableError): void {
    this.counters.l2Errors++
    if (channels.error.hasSubscribers)
      channels.error.publish({ namespace: this.options.namespace, operation, error })
  }

  private onBreaker(state: BreakerState): void {
    if (state === 'open') this.recovery?.linkLost()
    if (channels.breaker.hasSubscribers)
      channels.breaker.publish({ namespace: this.options.namespace, state })
  }
}
