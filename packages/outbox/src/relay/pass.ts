/**
 * One pass of one sink: claim (`claim.ts`), turn the rows into deliveries (a payload that is not
 * JSON is a dead letter at once), deliver (`deliver.ts`), settle (`settle.ts`). Every failure
 * leaves the table consistent:
 *
 * - the claim failed (database unreachable): nothing was claimed; the pass throws;
 * - the sink threw (unreachable, timeout): the batch is released for the next attempt and the
 *   pass throws, so the loop backs off that sink; a sink that throws `E_OUTBOX_REJECTED` refuses
 *   the whole batch for good instead (every effect a dead letter);
 * - the settling failed: delivered but not settled, the lease expires and the batch is delivered
 *   again (sinks are idempotent); the pass throws, the failure being the database's.
 *
 * A pass that did not throw resets the sink's `consecutiveFailures`.
 */
import { describeError, OutboxError } from '../errors.js'
import type { DeliveryOutcome, OutboxDelivery } from '../sinks/sink.js'
import { claim } from './claim.js'
import { deliver } from './deliver.js'
import { deadLetter, releaseAll, settle } from './settle.js'
import {
  type Claimed,
  type RelayPass,
  type RelayState,
  recordFailure,
  type SinkStats,
  sqlError,
} from './state.js'

/** Claim, deliver and settle one batch of `sink`; throws a retriable `OutboxError` on failure. */
export async function runPass(state: RelayState, sink: string, stop: AbortSignal): Promise<RelayPass> {
  const stats = state.stats.get(sink) as SinkStats
  const pass: RelayPass = { sink, claimed: 0, delivered: 0, retried: 0, deadLettered: 0 }
  let rows: Claimed[]
  try {
    rows = await claim(state, sink)
  } catch (error) {
    const wrapped = sqlError(error, sink)
    recordFailure(stats, wrapped)
    throw wrapped
  }
  pass.claimed = rows.length
  if (rows.length === 0) {
    stats.consecutiveFailures = 0
    return pass
  }
  const items: Array<OutboxDelivery<unknown>> = []
  const deliverable: Claimed[] = []
  for (const row of rows) {
    try {
      items.push({ seq: row.seq, payload: JSON.parse(row.payload), attempts: row.attempts })
      deliverable.push(row)
    } catch (error) {
      await deadLetter(
        state,
        sink,
        pass,
        row,
        `E_OUTBOX_INVALID_EFFECT payload is not JSON: ${describeError(error)}`,
      )
    }
  }
  let outcomes: readonly DeliveryOutcome[]
  try {
    outcomes = await deliver(state, sink, items, stop)
    if (outcomes.length !== items.length) {
      throw new OutboxError(
        'E_OUTBOX_SINK',
        `sink "${sink}" answered ${outcomes.length} outcomes for ${items.length} effects`,
        { sink },
      )
    }
  } catch (error) {
    const wrapped =
      error instanceof OutboxError
        ? error
        : new OutboxError('E_OUTBOX_SINK', `sink "${sink}" failed: ${describeError(error)}`, {
            sink,
            retriable: true,
            cause: error,
          })
    if (wrapped.code === 'E_OUTBOX_REJECTED') {
      outcomes = items.map(() => ({ status: 'rejected', error: describeError(wrapped) }) as const)
    } else {
      await releaseAll(state, sink, pass, deliverable, wrapped)
      recordFailure(stats, wrapped)
      throw wrapped
    }
  }
  try {
    await settle(state, sink, pass, deliverable, outcomes)
  } catch (error) {
    // Delivered but not settled: the lease expires and the batch is delivered again (sinks are
    // idempotent). The failure is the database's.
    const wrapped = sqlError(error, sink)
    recordFailure(stats, wrapped)
    throw wrapped
  }
  stats.consecutiveFailures = 0
  if (pass.delivered > 0 && state.events.listenerCount('delivered') > 0) state.events.emit('delivered', pass)
  return pass
}
