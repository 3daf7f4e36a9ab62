/**
 * The loader runner: one loader run of a flight, under the soft and hard timeouts, with the
 * stale value (grace) as the fallback, and its result stored with the snapshot taken before it
 * ran.
 *
 * Timeouts. With a stale value at hand, `softTimeout` serves it and lets the load finish in the
 * background (its result is still stored; the flight stays registered until then, so later
 * callers join it instead of starting another). `hardTimeout` aborts the loader's `signal` and
 * fails the call with `E_CACHE_LOADER_TIMEOUT`, or serves the stale value when there is one; the
 * result, if it still arrives, is stored too. A loader that fails serves the stale value when
 * there is one. Without timeouts, no timer is armed.
 *
 * Storing. A flight invalidated meanwhile (`delete`, `clear`, a bus drop of its key) returns its
 * value but stores nothing; a refresh (`announce`) then tells the other instances to drop their
 * copy, and removes the old entry when the new value is not to be stored. The lease, when held,
 * is released after the store, also when the value cannot be stored (so waiters never wait out
 * its TTL).
 */

import { publishDrop } from '../bus/coherence.js'
import type { CacheStack, Candidate, Flight } from '../cache-stack.js'
import type { CallOptions } from '../call-options.js'
import { prepare } from '../entries/entry.js'
import { LoaderTimeoutError } from '../errors.js'
import { channels } from '../observability/channels.js'
import { KeyEffect } from '../recovery/pending-invalidations.js'
import { releaseLease } from '../stampede/lease.js'

/** What a loader receives. */
export interface LoaderContext {
  /** The key being loaded. */
  readonly key: string
  /** Aborted when the hard timeout passes (the result is still cached if it arrives). */
  readonly signal: AbortSignal
  /** The stale value kept by grace, if any (e.g. for conditional requests). */
  readonly stale: unknown
}

/** Computes the value of a missing key. */
export type Loader<T> = (context: LoaderContext) => T | Promise<T>

/**
 * Computes the values of several missing keys at once: return a `Map` from key to value, or an
 * array aligned with `keys`. A key absent from the Map is a cached `undefined` (negative caching).
 */
export type BatchLoader<T> = (
  keys: string[],
  context: { readonly signal: AbortSignal },
) => Promise<Map<string, T> | readonly T[]> | Map<string, T> | readonly T[]

const NEVER_ABORTED = new AbortController().signal

/** Run `loader` for `flight` and store its value (see the module note); resolves with what the callers get. */
export function runLoader(
  stack: CacheStack,
  key: string,
  loader: Loader<unknown>,
  call: CallOptions,
  snapshot: number[],
  stale: Candidate | undefined,
  flight: Flight,
  leaseToken: string | undefined,
): Promise<unknown> {
  const controller = call.hardTimeout > 0 ? new AbortController() : undefined
  const context: LoaderContext = { key, signal: controller?.signal ?? NEVER_ABORTED, stale: stale?.value }
  flight.loading = true
  const started = performance.now()
  stack.counters.loaderCalls++
  let loading: Promise<unknown>
  try {
    loading = Promise.resolve(loader(context))
  } catch (error) {
    loading = Promise.reject(error)
  }
  const stored = loading.then(
    async (value) => {
      recordLoader(stack, key, started)
      try {
        await storeLoaded(stack, key, value, call, snapshot, flight)
      } finally {
        // Also when the value cannot be stored (E_CACHE_SERIALIZATION): the lease must not wait out its TTL.
        if (leaseToken !== undefined) await releaseLease(stack, key, leaseToken)
      }
      return value
    },
    async (error: unknown) => {
      stack.counters.loaderErrors++
      recordLoader(stack, key, started, error)
      if (leaseToken !== undefined) await releaseLease(stack, key, leaseToken)
      throw error
    },
  )
  const soft = stale !== undefined ? call.softTimeout : 0
  const hard = call.hardTimeout
  if (soft === 0 && hard === 0) {
    return stale === undefined
      ? stored
      : stored.catch((error: unknown) => serveStale(stack, key, stale, 'loader-error', error))
  }
  return new Promise<unknown>((resolve, reject) => {
    let done = false
    const timers: NodeJS.Timeout[] = []
    const finish = () => {
      done = true
      for (const t of timers) clearTimeout(t)
    }
    const background = () => {
      flight.background = stored
      stored.then(
        () => endBackground(stack, key, flight),
        (error: unknown) => {
          endBackground(stack, key, flight)
          stack.tolerate(error)
        },
      )
    }
    if (soft > 0 && (hard === 0 || soft < hard)) {
      timers.push(
        setTimeout(() => {
          if (done) return
          finish()
          background()
          resolve(serveStale(stack, key, stale as Candidate, 'soft-timeout', undefined))
        }, soft),
      )
    }
    if (hard > 0) {
      timers.push(
        setTimeout(() => {
          if (done) return
          finish()
          controller?.abort(new LoaderTimeoutError(key, hard))
          background()
          if (stale !== undefined) resolve(serveStale(stack, key, stale, 'hard-timeout', undefined))
          else reject(new LoaderTimeoutError(key, hard))
        }, hard),
      )
    }
    stored.then(
      (value) => {
        if (done) return
        finish()
        resolve(value)
      },
      (error: unknown) => {
        if (done) return
        finish()
        if (stale !== undefined) resolve(serveStale(stack, key, stale, 'loader-error', error))
        else reject(error)
      },
    )
  })
}

function endBackground(stack: CacheStack, key: string, flight: Flight): void {
  flight.background = undefined
  if (stack.flights.get(key) === flight) stack.flights.delete(key)
}

/** Serve a grace fallback: counted, published with its reason, cloned under `l1Values: 'clone'`. */
export function serveStale(
  stack: CacheStack,
  key: string,
  stale: Candidate,
  reason: string,
  error: unknown,
): unknown {
  stack.counters.staleServed++
  if (channels.stale.hasSubscribers) {
    channels.stale.publish({ namespace: stack.options.namespace, key, reason, error })
  }
  return stack.clone ? structuredClone(stale.value) : stale.value
}

/** Store a loader's `value` in both tiers (unless the flight was invalidated meanwhile), and announce a refresh. */
async function storeLoaded(
  stack: CacheStack,
  key: string,
  value: unknown,
  call: CallOptions,
  snapshot: number[],
  flight: Flight,
): Promise<void> {
  if (flight.invalidated || stack.closed) return
  const write = prepare(stack, key, value, call, snapshot)
  if (write !== undefined && stack.l2 !== undefined) {
    try {
      await stack.l2.write(write.key, write.bytes, write.ttlMs)
    } catch (error) {
      // A refresh's value must replace the old one: keep the old one's removal.
      if (flight.announce) stack.keep(error, [key], KeyEffect.Delete)
      else stack.tolerate(error)
    }
  }
  if (flight.announce) {
    // Nothing to store (a negative result with `negativeTtl: false`): the old entry must go.
    if (write === undefined && stack.l2 !== undefined) {
      try {
        await stack.l2.delete([stack.keys.entry(key)])
      } catch (error) {
        stack.keep(error, [key], KeyEffect.Delete)
      }
    }
    publishDrop(stack, [key])
  }
}

/** One batch loader run, counted (calls, errors, time) and published on the loader channel. */
export async function callBatchLoader<T>(
  stack: CacheStack,
  keys: readonly string[],
  batchLoader: BatchLoader<T>,
): Promise<Map<string, T> | readonly T[]> {
  const started = performance.now()
  stack.counters.loaderCalls++
  try {
    return await batchLoader([...keys], { signal: NEVER_ABORTED })
  } catch (error) {
    stack.counters.loaderErrors++
    throw error
  } finally {
    recordLoader(stack, keys.join(','), started)
  }
}

function recordLoader(stack: CacheStack, key: string, started: number, error?: unknown): void {
  const durationMs = performance.now() - started
  stack.counters.loaderTimeMs += durationMs
  if (channels.loader.hasSubscribers) {
    channels.loader.publish({ namespace: stack.options.namespace, key, durationMs, error })
  }
}
