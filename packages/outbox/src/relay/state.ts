/**
 * The relay's shared state, in one object built once by the facade ({@link OutboxRelay}) and
 * handed to each mechanism: the claim (`claim.ts`), the delivery (`deliver.ts`), the settling
 * (`settle.ts`), the pass that chains them (`pass.ts`) and the health (`health.ts`). None of them
 * keeps state of its own, and none imports another's internals through the facade, so the
 * imports run one way: facade -> pass -> claim/deliver/settle -> state.
 *
 * The relay never imports the outbox (the outbox constructs relays): it takes what it needs of
 * it, the dialect and its statements, as a {@link RelayTable}, which an `Outbox` is.
 */
import type { EventEmitter } from 'node:events'
import { describeError, OutboxError } from '../errors.js'
import type { OutboxSink } from '../sinks/sink.js'
import type { DialectSql, SqlDialect } from '../sql/dialect.js'
import type { SqlTransactor } from '../sql/runner.js'
import type { ResolvedRelayOptions } from './options.js'

/** What a relay needs of its outbox table: the dialect and its statements (an `Outbox` is one). */
export interface RelayTable {
  /** The dialect of the table's database. */
  readonly dialect: SqlDialect
  /** @internal The statements over the table. */
  readonly sql: DialectSql
}

/** Counters of one sink since the relay started. */
export interface SinkStats {
  /** Effects delivered. */
  delivered: number
  /** Effect deliveries that failed transiently (each will be tried again). */
  retried: number
  /** Effects made dead letters (rejected, malformed, or past `maxAge`). */
  deadLettered: number
  /** Batches that failed as a whole (sink unreachable, timeout, database error). */
  failedBatches: number
  /** Failed passes in a row (0 once a pass succeeds). */
  consecutiveFailures: number
  /** The last failure, or null. */
  lastError: string | null
  /** When the last effect was delivered (ms epoch), or null. */
  lastDeliveredAt: number | null
}

/** Result of one claim-and-deliver pass of one sink. */
export interface RelayPass {
  sink: string
  claimed: number
  delivered: number
  retried: number
  deadLettered: number
}

/** Events of {@link OutboxRelay}. */
export interface OutboxRelayEvents {
  /** A pass delivered effects. */
  delivered: [RelayPass]
  /** A batch or an effect failed transiently and will be retried. */
  retry: [{ sink: string; count: number; error: OutboxError }]
  /** An effect became a dead letter. */
  dead: [{ sink: string; seq: number; error: string }]
  /** A pass failed (database unreachable, sink threw): the loop backs off. */
  error: [OutboxError]
}

/** A claimed row, as the pass carries it. */
export interface Claimed {
  seq: number
  payload: string
  attempts: number
  /** Age since commit (or replay), microseconds: compared with `maxAge`. */
  ageUs: number
}

/** The state every mechanism of one relay shares. */
export interface RelayState {
  readonly options: ResolvedRelayOptions
  /** The table's statements, in its dialect. */
  readonly sql: DialectSql
  /** The relay's own transactions and statements (from its pool, never the writers'). */
  readonly db: SqlTransactor
  readonly sinks: ReadonlyMap<string, OutboxSink<unknown>>
  /** Counters per sink; the facade's `stats()` copies them. */
  readonly stats: ReadonlyMap<string, SinkStats>
  /** The relay, as the emitter of its events: each is built only when someone listens. */
  readonly events: EventEmitter<OutboxRelayEvents>
}

/** Fresh counters of one sink. */
export function newStats(): SinkStats {
  return {
    delivered: 0,
    retried: 0,
    deadLettered: 0,
    failedBatches: 0,
    consecutiveFailures: 0,
    lastError: null,
    lastDeliveredAt: null,
  }
}

/** A failure of the table's SQL, as the relay reports it (retriable: the database may come back). */
export function sqlError(error: unknown, sink: string): OutboxError {
  if (error instanceof OutboxError) return error
  return new OutboxError('E_OUTBOX_SQL', `outbox table access failed: ${describeError(error)}`, {
    sink,
    retriable: true,
    cause: error,
  })
}

/** Count a failed pass of a sink (its health reads `consecutiveFailures` and `lastError`). */
export function recordFailure(stats: SinkStats, error: OutboxError): void {
  stats.failedBatches++
  stats.consecutiveFailures++
  stats.lastError = describeError(error)
}
