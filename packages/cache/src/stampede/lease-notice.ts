/**
 * Lease notices: how a process waiting for another's lease is woken.
 *
 * A waiter registers BEFORE its first check of Redis ({@link addWaiter}); a notice that arrives
 * at any point sets `notified` and ends the current wait ({@link notifyLeaseWaiters}), so the
 * waiter's next round checks at once: no lost wake-up. Notices are the holder's release (`l` on
 * the bus), a bus state change (waiters switch between notices and polling) and `close()`.
 */
import type { CacheStack, LeaseWaiter } from '../cache-stack.js'

/** Register a waiter for `key`'s notices; remove it with {@link removeWaiter}. */
export function addWaiter(stack: CacheStack, key: string): LeaseWaiter {
  const waiter: LeaseWaiter = { notified: false, wake: undefined }
  let waiters = stack.leaseWaiters.get(key)
  if (waiters === undefined) {
    waiters = new Set()
    stack.leaseWaiters.set(key, waiters)
  }
  waiters.add(waiter)
  return waiter
}

export function removeWaiter(stack: CacheStack, key: string, waiter: LeaseWaiter): void {
  const waiters = stack.leaseWaiters.get(key)
  if (waiters === undefined) return
  waiters.delete(waiter)
  if (waiters.size === 0) stack.leaseWaiters.delete(key)
}

/** Resolves on the waiter's next notice (release, bus state change, close) or after `ms`. */
export function leaseNotice(waiter: LeaseWaiter, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiter.wake = undefined
      resolve()
    }, ms)
    timer.unref()
    waiter.wake = () => {
      clearTimeout(timer)
      waiter.wake = undefined
      resolve()
    }
  })
}

/** Wake the lease waiters of `keys` (all of them when undefined). */
export function notifyLeaseWaiters(stack: CacheStack, keys: readonly unknown[] | undefined): void {
  if (stack.leaseWaiters.size === 0) return
  const sets = keys === undefined ? [...stack.leaseWaiters.values()] : []
  if (keys !== undefined) {
    for (const key of keys) {
      const set = typeof key === 'string' ? stack.leaseWaiters.get(key) : undefined
      if (set !== undefined) sets.push(set)
    }
  }
  for (const set of sets) {
    for (const waiter of set) {
      waiter.notified = true
      waiter.wake?.()
    }
  }
}
