/**
 * Per-request cache accounting. The performance interceptor runs each handler inside an
 * `AsyncLocalStorage` store holding a {@link RequestCacheStats}; a `diagnostics_channel`
 * subscriber on the cache's hit/miss/stale/coalesced channels runs synchronously in the
 * publisher's async context, so `getStore()` there finds the store of the request that caused
 * the event, whichever provider, repository or decorator made the cache call.
 *
 * The subscription is reference-counted: the channels have subscribers (and the cache builds
 * event objects) only while at least one interceptor that wants the breakdown is alive.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { CACHE_CHANNEL_NAMES } from './cache-channels.js'

/** Cache activity seen while one request (or one `runWithRequestCacheStats` call) ran. */
export interface RequestCacheStats {
  /** Hits served from the in-process tier. */
  l1Hits: number
  /** Hits served from Redis. */
  l2Hits: number
  /** Lookups that missed both tiers (a loader ran or was joined). */
  misses: number
  /** Stale values served (grace). */
  stale: number
  /** Callers that joined a load already in flight. */
  coalesced: number
  /** Calls that skipped the cache because of `runWithCacheMode('bypass' | 'refresh')`. */
  bypassed: number
}

const storage = new AsyncLocalStorage<RequestCacheStats>()

/** A zeroed {@link RequestCacheStats}. */
export function emptyRequestCacheStats(): RequestCacheStats {
  return { l1Hits: 0, l2Hits: 0, misses: 0, stale: 0, coalesced: 0, bypassed: 0 }
}

/**
 * Run `fn` with a fresh {@link RequestCacheStats} store; cache events caused by `fn` (and the
 * async work it starts) are counted into `stats`.
 */
export function runWithRequestCacheStats<T>(stats: RequestCacheStats, fn: () => T): T {
  return storage.run(stats, fn)
}

/** The stats of the request running now, or `undefined` outside any. */
export function currentRequestCacheStats(): RequestCacheStats | undefined {
  return storage.getStore()
}

function onHit(message: unknown): void {
  const stats = storage.getStore()
  if (stats === undefined) return
  if ((message as { tier?: unknown } | null)?.tier === 'l2') stats.l2Hits++
  else stats.l1Hits++
}
function onMiss(): void {
  const stats = storage.getStore()
  if (stats !== undefined) stats.misses++
}
function onStale(): void {
  const stats = storage.getStore()
  if (stats !== undefined) stats.stale++
}
function onCoalesced(): void {
  const stats = storage.getStore()
  if (stats !== undefined) stats.coalesced++
}

let subscribers = 0

/**
 * Subscribe the per-request counters to the cache's channels (reference-counted). Returns the
 * function that releases this subscription.
 */
export function retainCacheChannelSubscription(): () => void {
  if (subscribers++ === 0) {
    subscribe(CACHE_CHANNEL_NAMES.hit, onHit)
    subscribe(CACHE_CHANNEL_NAMES.miss, onMiss)
    subscribe(CACHE_CHANNEL_NAMES.stale, onStale)
    subscribe(CACHE_CHANNEL_NAMES.coalesced, onCoalesced)
  }
  let released = false
  return () => {
    if (released) return
    released = true
    if (--subscribers === 0) {
      unsubscribe(CACHE_CHANNEL_NAMES.hit, onHit)
      unsubscribe(CACHE_CHANNEL_NAMES.miss, onMiss)
      unsubscribe(CACHE_CHANNEL_NAMES.stale, onStale)
      unsubscribe(CACHE_CHANNEL_NAMES.coalesced, onCoalesced)
    }
  }
}
