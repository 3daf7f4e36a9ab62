/**
 * The bus keeps every instance's L1 coherent: Redis pub/sub on the namespace's channel, over a
 * dedicated subscriber connection (a subscribed connection can run no other command). Messages
 * are small invalidations, never values: delete keys, expire keys, new tag versions, clear, and
 * lease-release notices (which wake other processes' stampede waiters). Each
 * carries the sender's instance id (an instance ignores its own) and the send time (for lag).
 *
 * Pub/sub is at-most-once: a message sent while a subscriber is disconnected is lost. The cache
 * bounds the damage: while the bus is down, and when it comes back, L1 entries are demoted to
 * stale and new ones live at most `busDownL1Ttl`; tagged entries are re-checked against Redis
 * after `tagTrust` whatever happens. A sender that could not publish keeps the notice and sends it
 * again when Redis answers (recovery/auto-recovery.ts).
 *
 * A hung link (a frozen server, a route that drops packets) closes nothing: the subscriber would
 * look connected while every message is held. So the subscriber is PINGed every `busHeartbeatInterval`
 * (PING is valid on a subscribed connection); a PING still unanswered at the next beat marks the
 * bus down (the cache demotes L1 and stops trusting L2) and the connection is dropped and
 * re-established, which re-subscribes. The verdict is taken in a `setImmediate` after the beat,
 * i.e. after the loop has read its sockets: a beat that fires late because the event loop was
 * blocked does not mistake an answer already received for silence.
 */
import { Cluster, type Redis } from 'ioredis'

/** A bus message (JSON, which keeps any JS string, lone surrogates included, intact). */
export interface BusMessage {
  /** Sender instance id. */
  i: string
  /** Send time (ms since epoch). */
  at: number
  /** Keys to drop from L1. */
  d?: string[] | undefined
  /** Keys to demote to stale in L1. */
  x?: string[] | undefined
  /** New tag versions: [tag suffix, version] pairs (the generation is the suffix `g`). */
  t?: Array<[string, number]> | undefined
  /** Drop all of L1. */
  c?: 1 | undefined
  /**
   * Keys whose cross-process lease was just released (the value is stored, or the load failed):
   * wakes the instances waiting for it.
   */
  l?: string[] | undefined
  /**
   * The sender waits for each receiver's confirmation (`awaitPeers`): a receiver applies the
   * notice, then publishes this id on the sender's reply channel (bus/peer-acks.ts).
   */
  a?: string | undefined
}

/** The reply channel of the instance `instanceId` on the bus `channel` (peer confirmations). */
export function ackChannel(channel: string, instanceId: string): string {
  return `${channel}:ack:${instanceId}`
}

/** Callbacks of the bus into the cache. */
export interface BusHooks {
  onMessage(message: BusMessage): void
  onConnected(): void
  onDisconnected(): void
  onError(error: unknown): void
  /** Notice `id` was confirmed: by a peer (on the reply channel), or by this instance's own echo. */
  onAck(id: string): void
}

/** See the module note. */
export class Bus {
  private readonly subscriber: Redis | Cluster
  connected = false
  private closed = false

  /** A heartbeat PING is waiting for its answer. */
  private awaitingPong = false
  private readonly heartbeat: ReturnType<typeof setInterval> | undefined
  private readonly replyChannel: string

  constructor(
    client: Redis | Cluster,
    private readonly channel: string,
    private readonly instanceId: string,
    private readonly hooks: BusHooks,
    heartbeatMs = 0,
  ) {
    // The subscriber must queue its SUBSCRIBE while connecting and re-subscribe after a
    // reconnect, whatever the options of the connection it is duplicated from.
    const overrides = { enableOfflineQueue: true, autoResubscribe: true, maxRetriesPerRequest: null }
    this.subscriber =
      client instanceof Cluster
        ? client.duplicate(undefined, { redisOptions: { ...client.options.redisOptions, ...overrides } })
        : client.duplicate({ ...overrides, commandTimeout: undefined })
    this.subscriber.on('message', this.handleMessage)
    this.subscriber.on('ready', this.handleReady)
    this.subscriber.on('close', this.handleDown)
    this.subscriber.on('end', this.handleDown)
    this.subscriber.on('error', this.handleError)
    this.replyChannel = ackChannel(channel, instanceId)
    this.subscriber.subscribe(channel, this.replyChannel).then(this.handleSubscribed, this.handleError)
    if (heartbeatMs > 0) {
      this.heartbeat = setInterval(this.beat, heartbeatMs)
      this.heartbeat.unref?.()
    }
  }

  private readonly beat = (): void => {
    if (this.closed || !this.connected) {
      this.awaitingPong = false
      return
    }
    if (this.awaitingPong) {
      setImmediate(this.verdict)
      return
    }
    this.awaitingPong = true
    this.subscriber.ping().then(this.pong, this.handlePingError)
  }

  private readonly pong = (): void => {
    this.awaitingPong = false
  }

  private readonly handlePingError = (error: unknown): void => {
    this.awaitingPong = false
    this.handleError(error)
  }

  private readonly verdict = (): void => {
    if (!this.awaitingPong || this.closed || !this.connected) return
    this.awaitingPong = false
    this.handleError(new Error('bus subscriber did not answer a heartbeat PING: the link is hung'))
    this.handleDown()
    // Drop the hung socket; ioredis reconnects (retryStrategy) and re-subscribes.
    this.subscriber.disconnect(true)
  }

  private subscribedOnce = false

  private readonly handleSubscribed = (): void => {
    this.subscribedOnce = true
    if (!this.closed && !this.connected) {
      this.connected = true
      this.hooks.onConnected()
    }
  }

  // ioredis re-subscribes by itself after a reconnect, before emitting 'ready'.
  private readonly handleReady = (): void => {
    if (!this.closed && this.subscribedOnce) this.handleSubscribed()
  }

  private readonly handleDown = (): void => {
    if (this.connected) {
      this.connected = false
      if (!this.closed) this.hooks.onDisconnected()
    }
  }

  private readonly handleError = (error: unknown): void => {
    if (!this.closed) this.hooks.onError(error)
  }

  private readonly handleMessage = (channel: string, raw: string): void => {
    if (channel === this.replyChannel) {
      this.hooks.onAck(raw)
      return
    }
    if (channel !== this.channel) return
    let message: BusMessage
    try {
      message = JSON.parse(raw) as BusMessage
    } catch (error) {
      this.hooks.onError(error)
      return
    }
    if (message === null || typeof message !== 'object') return
    if (message.i === this.instanceId) {
      // Our own notice: the receiver count PUBLISH gave includes this subscriber.
      if (typeof message.a === 'string') this.hooks.onAck(message.a)
      return
    }
    this.hooks.onMessage(message)
  }

  async close(): Promise<void> {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat)
    this.closed = true
    this.connected = false
    this.subscriber.disconnect()
  }
}
