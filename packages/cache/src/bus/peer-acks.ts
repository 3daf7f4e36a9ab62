/**
 * Peer acknowledgements: an invalidation that resolves only once every live instance has dropped
 * its L1 copy (`awaitPeers: true`), or when `peerAckTimeout` passes, whichever comes first.
 *
 * How. The writer registers a wait with an id before it publishes the notice, and the notice
 * carries the id (`BusMessage.a`). PUBLISH answers with the number of subscribers the message was
 * written to: that is how many confirmations to wait for. Each subscribed instance applies the
 * notice to its L1 first (synchronously, in the bus handler: keys dropped, their running loads
 * told to store nothing, tag versions raised) and then publishes the id on the writer's own
 * reply channel (`<channel>:ack:<writer id>`, one per instance, subscribed by its bus
 * connection). The writer's own subscriber receives the notice too and counts it as its own
 * confirmation without publishing, so the count needs no guess about whether this instance's
 * subscriber was connected when PUBLISH counted.
 *
 * Order. A confirmation may arrive before PUBLISH's reply does (two connections): confirmations
 * are counted from the moment the wait is registered, and compared with the count once it is
 * known. Confirmations that arrive after the wait settled (a peer thawed after the timeout) are
 * ignored.
 *
 * Bounds. The wait never outlives `peerAckTimeout` (or the PUBLISH itself, bounded by
 * `invalidationTimeout`, when that is longer: the count is needed to know who is missing) by more than
 * one turn of the event loop: the verdict waits until the loop has read its sockets, so the
 * confirmations that arrived while the process was held (a long task, a GC pause, busy cores)
 * are counted. It then resolves with the subscribers that did not confirm (`unconfirmed`), counted in `stats().peersUnconfirmed` and published on
 * `ayala:cache:peers`. A subscriber that is not an instance of this version (a `redis-cli
 * SUBSCRIBE`, an older release during a rolling upgrade) is counted by PUBLISH and never
 * confirms: it shows up there. On Redis Cluster PUBLISH counts only the subscribers of the node
 * that received it, so the count is not the instances' count: `awaitPeers` is refused there
 * (`E_CACHE_INVALID_OPTION`; sharded pub/sub would fix it, docs/cache-tiers.md).
 */
import { setDeadline } from '@ayala/internal'

/** What an invalidation with `awaitPeers: true` resolves with. */
export interface PeerAcknowledgement {
  /**
   * Whether the notice was sent. `false` when Redis could not be reached: the invalidation
   * applied here and is kept for a replay (docs/cache-recovery.md); no peer was told yet.
   */
  sent: boolean
  /**
   * Subscribers of the namespace's bus the notice reached (PUBLISH's count): the live instances,
   * this one included while its bus subscriber is connected.
   */
  receivers: number
  /** Receivers that confirmed they applied the notice to their L1 (this instance included). */
  confirmed: number
  /**
   * Receivers that did not confirm within `peerAckTimeout` (a frozen or overloaded peer, a
   * subscriber that is not a cache of this version). `0`: every live instance dropped its copy.
   */
  unconfirmed: number
  /** How long the call waited for the confirmations, ms. */
  waitedMs: number
}

/** An event of the `ayala:cache:peers` channel: one per invalidation that awaited its peers. */
export interface PeersEvent extends PeerAcknowledgement {
  namespace: string
  /** The notice's id (`BusMessage.a`). */
  id: string
}

/** One wait for the confirmations of one notice. */
export interface PeerWait {
  /** The id the notice carries. */
  readonly id: string
  /** Resolves when every receiver confirmed or `timeoutMs` passed (never rejects). */
  readonly done: Promise<PeerAcknowledgement>
}

interface Pending {
  startedAt: number
  confirmed: number
  /** PUBLISH's count; -1 until its reply arrives. */
  expected: number
  timer: ReturnType<typeof setTimeout> | undefined
  /** `timeoutMs` passed (settled as soon as PUBLISH's count is known). */
  timedOut: boolean
  resolve: (ack: PeerAcknowledgement) => void
}

/** The confirmations an instance waits for (see the module note). Pure accounting: no I/O. */
export class PeerAcks {
  private readonly pending = new Map<string, Pending>()
  private next = 0

  constructor(
    private readonly instanceId: string,
    private readonly settled?: ((id: string, ack: PeerAcknowledgement) => void) | undefined,
  ) {}

  /** Waits in progress. */
  get size(): number {
    return this.pending.size
  }

  /**
   * Register a wait before the notice is published. `timeoutMs` counts from now, so the time
   * PUBLISH takes is inside the bound.
   */
  open(timeoutMs: number): PeerWait {
    const id = `${this.instanceId}.${(this.next++).toString(36)}`
    let resolve!: (ack: PeerAcknowledgement) => void
    const done = new Promise<PeerAcknowledgement>((r) => {
      resolve = r
    })
    const entry: Pending = {
      startedAt: Date.now(),
      confirmed: 0,
      expected: -1,
      timer: undefined,
      timedOut: false,
      resolve,
    }
    this.pending.set(id, entry)
    // The verdict once the loop has read its sockets (`setDeadline` of `@ayala/internal`): a
    // timer that fires late (the process held by a long task, a GC pause, busy cores) must not
    // count as missing a confirmation that arrived in time and waits in the subscriber's socket.
    entry.timer = setDeadline(Math.max(0, timeoutMs), this.timeout, id)
    entry.timer.unref?.()
    return { id, done }
  }

  /** PUBLISH reached `receivers` subscribers: wait for that many confirmations. */
  expect(id: string, receivers: number): void {
    const entry = this.pending.get(id)
    if (entry === undefined) return
    entry.expected = Math.max(0, Math.floor(receivers))
    if (entry.timedOut || entry.confirmed >= entry.expected) this.finish(id)
  }

  /** A receiver confirmed notice `id`. Unknown or settled ids (a late peer) are ignored. */
  confirm(id: string): boolean {
    const entry = this.pending.get(id)
    if (entry === undefined) return false
    entry.confirmed++
    if (entry.expected >= 0 && entry.confirmed >= entry.expected) this.finish(id)
    return true
  }

  /** The notice could not be sent (Redis unavailable): the wait ends at once, nothing reached. */
  abandon(id: string): void {
    const entry = this.pending.get(id)
    if (entry === undefined) return
    entry.expected = 0
    entry.confirmed = 0
    this.finish(id, false)
  }

  /** Settle every wait now (the cache is closing): each reports what it has. */
  closeAll(): void {
    for (const id of [...this.pending.keys()]) this.finish(id)
  }

  // The verdict (see open): a wait that settled meanwhile is gone. Before PUBLISH answered the
  // count is unknown: the wait settles when it does (PUBLISH is bounded by redisTimeout) or
  // fails (abandon).
  private readonly timeout = (id: string): void => {
    const entry = this.pending.get(id)
    if (entry === undefined) return
    entry.timer = undefined
    entry.timedOut = true
    if (entry.expected >= 0) this.finish(id)
  }

  private finish(id: string, sent = true): void {
    const entry = this.pending.get(id)
    if (entry === undefined) return
    this.pending.delete(id)
    if (entry.timer !== undefined) clearTimeout(entry.timer)
    // Closed before PUBLISH answered: the count is unknown, what confirmed is what is known.
    const receivers = entry.expected < 0 ? entry.confirmed : Math.max(entry.expected, entry.confirmed)
    const ack: PeerAcknowledgement = {
      sent,
      receivers,
      confirmed: entry.confirmed,
      unconfirmed: receivers - entry.confirmed,
      waitedMs: Date.now() - entry.startedAt,
    }
    this.settled?.(id, ack)
    entry.resolve(ack)
  }
}
