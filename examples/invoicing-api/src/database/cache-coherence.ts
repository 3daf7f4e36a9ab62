/**
 * The `Cache-Coherence` header of a write's response: whether a read of what the write changed,
 * sent to ANY instance of the API after this response, is served the new version.
 *
 * A committed write drops its cache tags on every instance and waits for their confirmations, at
 * most the cache's `peerAckTimeout` (`guarded-write.ts` {@link afterCommit}). What that wait
 * found is the header:
 *
 * - `confirmed; receivers=3`: every instance subscribed to the cache's bus (this one included)
 *   dropped its copy before the response: a read anywhere is served this write.
 * - `unconfirmed; receivers=3; missing=1`: `missing` instances did not confirm in time (a frozen
 *   or overloaded process): they may serve the previous version until the notice lands.
 * - `deferred`: Redis could not be reached (a failover, a cut link): no other instance was told
 *   yet. The cache replays the invalidation when Redis answers and the outbox's cache effect
 *   delivers it again; until then the other instances may serve the previous version (their L1
 *   copies are demoted while their own bus is down, new ones live at most `busDownL1Ttl`).
 *
 * A client that must read its own write elsewhere (another tab, a job on another instance) reads
 * it from the instance that answered, or waits when the header is not `confirmed`. The header is
 * set through the request's context ({@link cacheCoherenceContext}, a middleware on every route),
 * so the repositories keep returning their views.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { PeerAcknowledgement } from '@ayala/cache'

/** The response header's name. */
export const CACHE_COHERENCE_HEADER = 'cache-coherence'

/** The part of a response this needs (Express's and Node's both have it). */
interface HeaderTarget {
  readonly headersSent: boolean
  setHeader(name: string, value: string): unknown
}

const responses = new AsyncLocalStorage<HeaderTarget>()

/** Middleware: run the rest of the request with its response reachable by {@link reportCacheCoherence}. */
export function cacheCoherenceContext(_request: unknown, response: HeaderTarget, next: () => void): void {
  responses.run(response, next)
}

/** The header's value for what an awaited invalidation resolved with (`undefined`: it threw). */
export function cacheCoherence(ack: PeerAcknowledgement | undefined): string {
  if (ack === undefined || !ack.sent) return 'deferred'
  if (ack.unconfirmed > 0) return `unconfirmed; receivers=${ack.receivers}; missing=${ack.unconfirmed}`
  return `confirmed; receivers=${ack.receivers}`
}

/** Set the header on the response of the request being handled (nothing outside a request). */
export function reportCacheCoherence(value: string): void {
  const response = responses.getStore()
  if (response !== undefined && !response.headersSent) response.setHeader(CACHE_COHERENCE_HEADER, value)
}
