/**
 * `getOrSet` past its inlined L1 hit (cache.ts): the miss path, and the forced calls (`refresh`,
 * `bypass`).
 *
 * Concurrent misses of one key share one flight (coalescing): the first caller registers it,
 * later ones join its promise. The flight reads L2 with one MGET of the entry, the generation and
 * the versions of the tags the caller is about to snapshot (read/read-entry.ts); an L2 hit fills
 * L1. Otherwise the loader runs (behind the cross-process lease when asked, stampede/lease.ts),
 * under the soft and hard timeouts, with the stale value (grace) as the fallback
 * (get-set/loader-runner.ts), and the result is written to both tiers with the version snapshot
 * taken BEFORE the loader ran: a tag invalidated while it loads makes the stored entry stale at
 * once (the refill race).
 *
 * A caller joins a flight only while no invalidation of the key (delete, clear, a tag bumped
 * past the flight's snapshot) was seen since it started (CacheStack.joinable): a read that starts
 * after an invalidation returned, here or through the bus, never gets the value loaded before it.
 *
 * A `refresh` call skips the read but not the snapshot (one MGET of the versions), joins only a
 * flight that is already loading, and otherwise takes the key's place: callers already on the old
 * flight keep its result, later callers join the refresh. A `bypass` call touches neither tier.
 * Without Redis, or while it is unavailable, the snapshot is the versions this instance knows.
 */
import type { CacheStack, Candidate, Flight, L1Record } from '../cache-stack.js'
import { type CallOptions, resolveCallOptions } from '../call-options.js'
import { check, FRESH, STALE } from '../entries/entry.js'
import { InvalidOptionError, L2UnavailableError } from '../errors.js'
import { channels } from '../observability/channels.js'
import type { GetOrSetOptions } from '../options.js'
import { readEntry } from '../read/read-entry.js'
import { takeLease } from '../stampede/lease.js'
import { type Loader, runLoader } from './loader-runner.js'

/** The snapshot of a load whose value is never stored (`bypass`). */
const NO_SNAPSHOT: number[] = []
const NO_TAGS: readonly string[] = Object.freeze([])

/**
 * The rest of `getOrSet` after its inlined L1 check: the value, or the promise of the flight it
 * starts or joins. Not `async` (one promise fewer per L2 hit): it runs inside `getOrSet`, which
 * turns a throw (a closed cache) into a rejection.
 */
export function getOrSetSlow(
  stack: CacheStack,
  key: string,
  loader: Loader<unknown>,
  options: GetOrSetOptions | undefined,
  record: L1Record | undefined,
): unknown {
  stack.assertOpen()
  let stale: Candidate | undefined
  if (record !== undefined) {
    const state = check(stack, record, key)
    if (state === FRESH) {
      stack.l1Hit(key)
      return stack.out(record)
    }
    if (state === STALE) stale = { value: record.value, staleUntil: record.staleUntil }
  }
  const existing = stack.joinable(key)
  if (existing !== undefined) return join(stack, key, existing)
  return startFlight(stack, key, loader, resolveCallOptions(stack.defaults, options), stale, false)
}

/** `getOrSet` with `refresh` or `bypass` (see {@link GetOrSetOptions}). */
export async function getOrSetForced(
  stack: CacheStack,
  key: string,
  loader: Loader<unknown>,
  options: GetOrSetOptions,
): Promise<unknown> {
  stack.assertOpen()
  if (options.refresh === true && options.bypass === true)
    throw new InvalidOptionError('bypass', 'cannot be combined with refresh')
  const call = resolveCallOptions(stack.defaults, options)
  if (options.bypass === true) {
    // A flight that is not registered and already marked invalidated: the loader runs under the
    // call's timeouts and counters, and its value is returned but stored nowhere.
    const detached: Flight = { ...stack.flight(call.tagSuffixes, true), invalidated: true, announce: false }
    return runLoader(stack, key, loader, call, NO_SNAPSHOT, undefined, detached, undefined)
  }
  const existing = stack.joinable(key)
  if (existing?.loading) return join(stack, key, existing)
  // No flight, or one that may still answer from the cache: this refresh takes its place
  // (callers already on the old flight keep its result; later callers join the refresh).
  return startFlight(stack, key, loader, call, undefined, true)
}

function join(stack: CacheStack, key: string, flight: Flight): Promise<unknown> {
  stack.counters.coalesced++
  if (channels.coalesced.hasSubscribers)
    channels.coalesced.publish({ namespace: stack.options.namespace, key })
  return flight.promise
}

function startFlight(
  stack: CacheStack,
  key: string,
  loader: Loader<unknown>,
  call: CallOptions,
  stale: Candidate | undefined,
  refresh: boolean,
): Promise<unknown> {
  const flight = stack.flight(call.tagSuffixes, refresh)
  const promise = fly(stack, key, loader, call, stale, flight, refresh)
  flight.promise = promise
  stack.flights.set(key, flight)
  const end = (): void => endFlight(stack, key, flight)
  promise.then(end, end)
  return promise
}

function endFlight(stack: CacheStack, key: string, flight: Flight): void {
  // A flight that served stale on a soft timeout ends when its background load settles.
  if (flight.background !== undefined) return
  if (stack.flights.get(key) === flight) stack.flights.delete(key)
}

/**
 * The load of one key: read L2 (entry and tag versions in one MGET) or, for a refresh, only the
 * tag versions; then the loader (behind the lease when asked), stored with the versions read
 * BEFORE it ran (the refill race).
 */
async function fly(
  stack: CacheStack,
  key: string,
  loader: Loader<unknown>,
  call: CallOptions,
  stale: Candidate | undefined,
  flight: Flight,
  refresh: boolean,
): Promise<unknown> {
  // The server's versions read before the loader runs, generation first.
  let snapshot: number[] | undefined
  let l2Up = false
  const l2 = stack.l2
  const entryKey = l2 === undefined ? '' : stack.keys.entry(key)
  if (l2 !== undefined && refresh) {
    try {
      snapshot = await l2.versions(call.tagSuffixes)
      l2Up = true
      stack.observeAll(call.tagSuffixes, snapshot)
    } catch (error) {
      if (!(error instanceof L2UnavailableError)) throw error
    }
  } else if (l2 !== undefined) {
    try {
      const requestedTags = call.tagSuffixes.length === 1 ? NO_TAGS : call.tagSuffixes.slice(1)
      const read = await readEntry(stack, key, entryKey, requestedTags, call.l1Ttl)
      const hit = read.hit
      if (hit?.fresh) return hit.value
      snapshot = [read.generation, ...read.requested]
      l2Up = true
      if (hit !== undefined && (stale === undefined || hit.staleUntil > stale.staleUntil)) stale = hit
    } catch (error) {
      if (!(error instanceof L2UnavailableError)) throw error
    }
  }
  // Without Redis (or while it is unavailable), the versions this instance knows.
  if (snapshot === undefined) snapshot = stack.tags.snapshot(call.tagSuffixes)
  // What the value will be valid for: a caller arriving after a bump past these starts its own load.
  flight.versions = snapshot
  if (!refresh) {
    stack.counters.misses++
    if (channels.miss.hasSubscribers) channels.miss.publish({ namespace: stack.options.namespace, key })
  }
  let leaseToken: string | undefined
  if (call.lease && l2Up && l2 !== undefined) {
    const lease = await takeLease(stack, key, entryKey, call, refresh)
    if (typeof lease === 'string') leaseToken = lease
    else if (lease !== undefined) return lease.value
  }
  return runLoader(stack, key, loader, call, snapshot, stale, flight, leaseToken)
}
