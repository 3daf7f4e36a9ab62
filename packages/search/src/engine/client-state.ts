/**
 * The shared state of one search client, in one object: the resolved options, the connection
 * (the official client and the engine's adapter, detected once with `engine: 'auto'`), the read
 * breaker and fallbacks, the latency histogram and the counters. `SearchClient` (the facade)
 * creates it and hands it to each mechanism, which does one thing with it:
 *
 * - `connection.ts` fills `connection`/`client` (engine detection, retried after a failure;
 *   `borrowed-client.ts` for a client given by the application, kept in `borrowed`);
 * - `instrument.ts` times searches into `latency` and emits `slow-query` on `events`;
 * - `read/bounded-read.ts` runs the interactive reads behind `breaker` within their budget,
 *   counting into `reads`; `read/fallback.ts` answers from `fallback`;
 * - `paging/` opens points in time and pages with cursors, `engine/admin.ts` creates and deletes
 *   indices, `engine/health.ts` reports, `bulk/client-bulk.ts` loads and counts into `bulk`.
 *
 * Only the facade creates it; mechanisms never import one another's state, only this shape.
 */
import type { EventEmitter } from 'node:events'
import type { Client } from '@elastic/elasticsearch'
import { LatencyHistogram } from '../observability/latency-histogram.js'
import { type BreakerState, CircuitBreaker } from '../read/circuit-breaker.js'
import type { EngineAdapter } from './adapters.js'
import type { ResolvedSearchClientOptions, SearchFallbacks } from './options.js'

/** Figures of the interactive reads of a client (see {@link SearchClient.readStats}). */
export interface ReadStats {
  /** Interactive reads called (search, suggest, get). */
  reads: number
  /** Reads that failed as unavailable (timeout, connection, overloaded, circuit open). */
  unavailable: number
  /** Of those, refused at once by the open breaker (no request sent). */
  rejected: number
  /**
   * Reads whose deadline passed while a node of several held the request: that node was marked
   * dead in the client's connection pool (it gets the next reads only as a node that timed out
   * would; `health().nodes` shows it). A lone node, or a borrowed client, is never marked.
   */
  silentNodes: number
  /** Reads answered by a fallback. */
  fallbacks: number
  /** Fallbacks that failed too (the read then rejects with the engine's error). */
  fallbackFailures: number
  /** The breaker's state now. */
  breaker: BreakerState
}

/** Cumulative bulk figures of a client (see {@link SearchClient.bulkStats}). */
export interface BulkStats {
  /** Bulk loads run. */
  loads: number
  /** Documents accepted. */
  indexed: number
  /** Documents rejected. */
  failed: number
  /** Retries (requests and items). */
  retries: number
  /** Bulk requests sent. */
  requests: number
  /** NDJSON bytes sent. */
  bytes: number
}

/** Payload of the `slow-query` event. */
export interface SlowQueryEvent {
  /** Index or alias searched. */
  index: string
  /** Client-side latency in ms. */
  durationMs: number
  /** Hash of the query shape without values. */
  fingerprint: string
  /** The request body (with values), for debugging; do not log it blindly. */
  body: unknown
}

/** Events of a {@link SearchClient}. */
export interface SearchClientEvents {
  /** A search slower than `slowQueryThreshold`. */
  'slow-query': [SlowQueryEvent]
  /** The interactive reads' breaker changed state (`open`: reads are refused at once). */
  breaker: [BreakerState]
  /** A fallback failed too (the read rejected with the engine's error; counted in `readStats`). */
  'fallback-error': [{ operation: 'search' | 'get'; index: string; error: unknown }]
}

/** The official client and the adapter of the engine it talks to. */
export interface Connection {
  client: Client
  adapter: EngineAdapter
}

/** The shared state of one search client (see the module note). */
export interface ClientState {
  /** Resolved options (no secret). */
  readonly options: ResolvedSearchClientOptions
  /** Where events are emitted (the client itself); mechanisms check for listeners first. */
  readonly events: EventEmitter<SearchClientEvents>
  /** Client-side latency of every search. */
  readonly latency: LatencyHistogram
  /** Cumulative bulk figures. */
  readonly bulk: BulkStats
  /** Counters of the interactive reads (the breaker's state is read from `breaker`). */
  readonly reads: Omit<ReadStats, 'breaker'>
  /** The interactive reads' breaker. */
  readonly breaker: CircuitBreaker
  /** Client-wide fallbacks of the interactive reads. */
  readonly fallback: SearchFallbacks
  /** Interactive reads retry only on other nodes: a lone dead node is not retried inside the budget. */
  readonly readRetries: number
  /** The connection, once known (at once with a fixed engine; after detection with `auto`). */
  connection: Promise<Connection> | undefined
  /**
   * The same connection once it has resolved, read synchronously by the interactive reads so an
   * established client costs them no extra promise hop (`read/bounded-read.ts`).
   */
  ready: Connection | undefined
  /** The official client once built here, for `close()` (never the borrowed one). */
  client: Client | undefined
  /** The official client given to `createSearchClient({ client })`: used, never closed. */
  readonly borrowed: Client | undefined
  /** Stops reading the borrowed client's attempts (engine/node-attempt.ts), once connected. */
  detachBorrowed: (() => void) | undefined
  /** Set by `close()`: a connection that completes afterwards attaches nothing to a borrowed client. */
  closed: boolean
}

/** A client's state, with the breaker reporting its changes as `breaker` events. */
export function createClientState(
  options: ResolvedSearchClientOptions,
  fallback: SearchFallbacks | undefined,
  events: EventEmitter<SearchClientEvents>,
  borrowed?: Client | undefined,
): ClientState {
  return {
    options,
    events,
    latency: new LatencyHistogram(),
    bulk: { loads: 0, indexed: 0, failed: 0, retries: 0, requests: 0, bytes: 0 },
    reads: { reads: 0, unavailable: 0, rejected: 0, silentNodes: 0, fallbacks: 0, fallbackFailures: 0 },
    breaker: new CircuitBreaker(options.breakerThreshold, options.breakerCooldownMs, (state) => {
      if (events.listenerCount('breaker') > 0) events.emit('breaker', state)
    }),
    fallback: { ...fallback },
    readRetries: Math.min(options.retries, options.nodes.length - 1),
    connection: undefined,
    ready: undefined,
    detachBorrowed: undefined,
    closed: false,
    client: undefined,
    borrowed,
  }
}
