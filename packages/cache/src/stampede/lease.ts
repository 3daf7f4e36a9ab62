/**
 * Cross-process stampede protection (`lease: true`): a miss takes a lease in Redis (`SET NX PX`,
 * `leaseTtl`), and the processes that miss the same key meanwhile wait for the holder's value
 * instead of running the loader too.
 *
 * The holder writes the entry, releases the lease (only its own: a token per acquisition), then
 * publishes a release notice (`l`) on the bus ({@link releaseLease}). A waiter registers for the
 * notice BEFORE its first check (lease held? entry fresh?), so a notice that arrives at any point
 * makes the next wait return at once (stampede/lease-notice.ts). While the bus is connected the
 * waiter checks Redis only then (and once at the start); while it is down (or `bus: false`), it
 * polls, every `leasePollInterval` doubling up to 8x `leasePollInterval`. A lease seen gone with
 * no fresh entry means the holder failed (or died): the caller loads itself, as it does after
 * `leaseWaitTimeout` or when Redis is unavailable (a bounded wait, never a deadlock). A refresh
 * takes a free lease but never waits (the holder may be serving the old value).
 */

import { publish } from '../bus/coherence.js'
import type { CacheStack, Candidate } from '../cache-stack.js'
import type { CallOptions } from '../call-options.js'
import { L2UnavailableError } from '../errors.js'
import { readEntry } from '../read/read-entry.js'
import type { RedisTier } from '../tiers/redis-tier.js'
import { addWaiter, leaseNotice, removeWaiter } from './lease-notice.js'

const NO_TAGS: readonly string[] = Object.freeze([])

/**
 * Take the lease of `key` for a load, or wait for the process that holds it. Returns the token
 * when this caller holds the lease (release it with {@link releaseLease}), the holder's value
 * when it arrived within `leaseWaitTimeout`, or undefined: load without a lease (Redis unavailable, the
 * holder gone, the wait over, or a refresh that found the lease taken). Requires `stack.l2`.
 */
export async function takeLease(
  stack: CacheStack,
  key: string,
  entryKey: string,
  call: CallOptions,
  refresh: boolean,
): Promise<string | Candidate | undefined> {
  const l2 = stack.l2 as RedisTier
  const leaseKey = stack.keys.lease(key)
  const token = `${stack.instanceId}:${++stack.leaseCounter}`
  let acquired = true
  try {
    acquired = await l2.acquireLease(leaseKey, token, stack.options.leaseTtl)
  } catch (error) {
    if (!(error instanceof L2UnavailableError)) throw error
  }
  if (acquired) return token
  if (refresh) return undefined
  stack.counters.leaseWaits++
  const requestedTags = call.tagSuffixes.length === 1 ? NO_TAGS : call.tagSuffixes.slice(1)
  return waitForLease(stack, key, entryKey, leaseKey, requestedTags, call.l1Ttl)
}

/** Another process holds the lease of `key`: wait for its value, at most `leaseWaitTimeout` (see the module note). */
async function waitForLease(
  stack: CacheStack,
  key: string,
  entryKey: string,
  leaseKey: string,
  requestedTags: readonly string[],
  l1Ttl: number,
): Promise<Candidate | undefined> {
  const l2 = stack.l2 as RedisTier
  const deadline = Date.now() + stack.options.leaseWaitTimeout
  const waiter = addWaiter(stack, key)
  let poll = stack.options.leasePollInterval
  try {
    while (!stack.closed) {
      waiter.notified = false
      try {
        // Lease first, then the value: the holder writes before it releases.
        const held = await l2.leaseHeld(leaseKey)
        const { hit } = await readEntry(stack, key, entryKey, requestedTags, l1Ttl)
        if (hit?.fresh) return hit
        if (!held) return undefined
      } catch (error) {
        if (!(error instanceof L2UnavailableError)) throw error
        return undefined
      }
      const remaining = deadline - Date.now()
      if (remaining <= 0 || stack.closed) return undefined
      if (waiter.notified) continue
      const busUp = stack.bus?.connected === true
      await leaseNotice(waiter, busUp ? remaining : Math.min(poll, remaining))
      if (!busUp) poll = Math.min(poll * 2, stack.options.leasePollInterval * 8)
    }
    return undefined
  } finally {
    removeWaiter(stack, key, waiter)
  }
}

/** Release our lease of `key`, then tell the waiters of other instances (bus notice `l`). */
export async function releaseLease(stack: CacheStack, key: string, token: string): Promise<void> {
  await stack.l2?.releaseLease(stack.keys.lease(key), token).catch(stack.tolerate)
  if (stack.bus !== undefined) publish(stack, { i: stack.instanceId, at: Date.now(), l: [key] })
}
