/**
 * Bus coherence: what this instance tells the others (drop, expire, new tag versions, clear,
 * lease releases) and what it does with what they tell it (bus/bus.ts carries the messages).
 *
 * Outgoing. {@link publishStrict} rejects when the notice cannot be sent (an invalidation then
 * keeps it for a replay, recovery/); {@link publishDrop}, the notice of `set` and of refreshes,
 * keeps a notice it could not send itself; {@link publish} is best effort (lease releases: a
 * waiter that misses one finds the lease gone at its next check).
 *
 * Incoming ({@link onBusMessage}): keys dropped from L1 (and their running loads told to store
 * nothing), keys demoted to stale, tag versions observed (which bumps `seq`, so every L1 record
 * is re-checked once), lease waiters woken, then, when the sender awaits its peers, a
 * confirmation sent back (bus/peer-acks.ts). Pub/sub keeps nothing for a disconnected subscriber:
 * {@link onBusState} demotes all of L1 when the bus drops and again when it comes back (reads in
 * flight then fill L1 stale, running loads store nothing), and tells auto-recovery the link was
 * lost.
 */
import type { CacheStack } from '../cache-stack.js'
import { demote } from '../entries/entry.js'
import { channels } from '../observability/channels.js'
import { KeyEffect } from '../recovery/pending-invalidations.js'
import { notifyLeaseWaiters } from '../stampede/lease-notice.js'
import { ackChannel, type BusMessage } from './bus.js'
import type { PeerAcknowledgement } from './peer-acks.js'

/** Send `message`, best effort (a failure is tolerated: counted and emitted). */
export function publish(stack: CacheStack, message: BusMessage): void {
  publishStrict(stack, message).catch(stack.tolerate)
}

/** Send `message`; rejects when Redis is unavailable. Nothing without a bus. */
export async function publishStrict(stack: CacheStack, message: BusMessage): Promise<void> {
  if (stack.bus === undefined || stack.l2 === undefined) return
  await stack.l2.publish(stack.keys.channel, JSON.stringify(message))
  countOut(stack, message)
}

/**
 * Send `message` and wait for every receiver to confirm it applied it, at most `timeoutMs`
 * (bus/peer-acks.ts). Rejects, like {@link publishStrict}, when the notice cannot be sent.
 */
export async function publishAwaited(
  stack: CacheStack,
  message: BusMessage,
  timeoutMs: number,
): Promise<PeerAcknowledgement> {
  const acks = stack.acks
  if (acks === undefined || stack.l2 === undefined) return NOT_SENT
  const wait = acks.open(timeoutMs)
  message.a = wait.id
  let receivers: unknown
  try {
    receivers = await stack.l2.publish(stack.keys.channel, JSON.stringify(message))
  } catch (error) {
    acks.abandon(wait.id)
    throw error
  }
  countOut(stack, message)
  acks.expect(wait.id, typeof receivers === 'number' ? receivers : Number(receivers) || 0)
  return wait.done
}

/** The result of an awaited invalidation whose notice was not sent (kept for a replay). */
export const NOT_SENT: PeerAcknowledgement = Object.freeze({
  sent: false,
  receivers: 0,
  confirmed: 0,
  unconfirmed: 0,
  waitedMs: 0,
})

/** Count (and publish on the bus channel) a notice this instance sent. */
export function countOut(stack: CacheStack, message: BusMessage): void {
  stack.counters.busOut++
  if (channels.bus.hasSubscribers)
    channels.bus.publish({ namespace: stack.options.namespace, direction: 'out', message })
}

/** Tell the other instances to drop `keys` from L1; a notice that cannot be sent is kept for a replay. */
export function publishDrop(stack: CacheStack, keys: string[]): void {
  if (stack.bus === undefined) return
  publishStrict(stack, { i: stack.instanceId, at: Date.now(), d: keys }).catch((error: unknown) =>
    stack.keep(error, keys, KeyEffect.Drop),
  )
}

/** A notice from another instance (see the module note). */
export function onBusMessage(stack: CacheStack, message: BusMessage): void {
  stack.counters.busIn++
  const lagMs = typeof message.at === 'number' ? Date.now() - message.at : 0
  stack.counters.busLastLagMs = lagMs
  if (channels.bus.hasSubscribers) {
    channels.bus.publish({ namespace: stack.options.namespace, direction: 'in', lagMs, message })
  }
  if (message.c === 1) {
    stack.l1.clear()
    stack.invalidateFlights()
  }
  if (Array.isArray(message.d)) {
    for (const key of message.d) {
      if (typeof key !== 'string') continue
      stack.l1.delete(key)
      stack.invalidateFlight(key)
    }
  }
  if (Array.isArray(message.x)) for (const key of message.x) if (typeof key === 'string') demote(stack, key)
  if (Array.isArray(message.l)) notifyLeaseWaiters(stack, message.l)
  if (Array.isArray(message.t)) {
    for (const pair of message.t) {
      if (Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'number') {
        stack.observe(pair[0], pair[1])
      }
    }
  }
  if (typeof message.a === 'string' && typeof message.i === 'string') confirm(stack, message)
}

/**
 * The sender of `message` waits for this instance's confirmation (`awaitPeers`): L1 is already
 * applied (above, synchronously). An L2 read of a dropped or expired key sent before the notice
 * may still answer after it with the old entry (another connection): its L1 fill is refused for
 * a while, so that the value the writer replaced cannot come back into L1 after the
 * confirmation (see {@link CacheStack.refuseFills}). Tag and clear notices need no such guard:
 * a late fill carries the old versions in its snapshot, which the raised tag table rejects.
 */
function confirm(stack: CacheStack, message: BusMessage): void {
  if (Array.isArray(message.d)) stack.refuseFills(message.d)
  if (Array.isArray(message.x)) stack.refuseFills(message.x)
  if (stack.l2 === undefined) return
  stack.counters.peerAcksOut++
  stack.l2.publish(ackChannel(stack.keys.channel, message.i), message.a as string).catch(stack.tolerate)
}

/** The bus subscriber connected or dropped (see the module note). */
export function onBusState(stack: CacheStack, connected: boolean): void {
  // Messages may have been lost while disconnected (pub/sub keeps nothing): whatever L1 holds
  // now is demoted to stale, both when the subscriber drops and when it comes back. (Before the
  // first connection, L1 entries live at most busDownL1Ttl, which bounds what was missed.)
  if (!connected || stack.busWasDown) {
    stack.demotions++
    stack.seq++
    // A load running now may have read what a lost notice replaced, and a notice is what tells a
    // load to store nothing (a `d` for its key): every running load stores nothing, as after a
    // clear; its callers still get its value, later callers start their own. An L2 read sent
    // before now fills L1 stale (entries/entry.ts toL1, with the count taken when it was sent).
    stack.invalidateFlights()
  }
  if (!connected) {
    stack.busWasDown = true
    // Peers' notices may be lost from now on: stop trusting L2 until the link is back (and held).
    stack.recovery?.linkLost()
  }
  // Waiters stop relying on notices (down) or go back to them (up): re-check now.
  notifyLeaseWaiters(stack, undefined)
  if (channels.busState.hasSubscribers) {
    channels.busState.publish({
      namespace: stack.options.namespace,
      state: connected ? 'connected' : 'disconnected',
    })
  }
}
