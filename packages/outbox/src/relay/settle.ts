/**
 * Settle a delivered batch, each statement guarded by `claimed_by = <this relay>` (a row whose
 * lease expired and was claimed by another relay is no longer this relay's to settle):
 *
 * - `done` outcomes: the rows are deleted, in one statement;
 * - `retry` outcomes: `attempts + 1`, `last_error` and an `available_at` after an exponential
 *   backoff (`retryDelay` doubling up to `maxRetryDelay`, half fixed and half jitter);
 * - `rejected` outcomes: dead letters at once;
 * - a batch that failed as a whole (the sink threw: unreachable) is released for the next
 *   attempt ({@link releaseAll}), the loop backing off that sink.
 *
 * An effect still failing transiently after `maxAge` (counted from its commit, or from its replay)
 * becomes a dead letter instead of being retried: "retried for hours", not "five attempts in half a
 * second".
 */
import { describeError, OutboxError } from '../errors.js'
import type { DeliveryOutcome } from '../sinks/sink.js'
import { type Claimed, type RelayPass, type RelayState, type SinkStats, sqlError } from './state.js'

/**
 * Apply the sink's outcomes to the claimed rows (`outcomes[i]` is the outcome of `rows[i]`). A
 * database failure here throws: the rows stay claimed, their lease expires and the batch is
 * delivered again (sinks are idempotent).
 */
export async function settle(
  state: RelayState,
  sink: string,
  pass: RelayPass,
  rows: readonly Claimed[],
  outcomes: readonly DeliveryOutcome[],
): Promise<void> {
  const stats = state.stats.get(sink) as SinkStats
  const done: number[] = []
  for (const [i, row] of rows.entries()) {
    const outcome = outcomes[i] as DeliveryOutcome
    if (outcome.status === 'done') done.push(row.seq)
    else if (outcome.status === 'rejected') await deadLetter(state, sink, pass, row, outcome.error)
    else await retryOne(state, sink, pass, row, outcome.error)
  }
  if (done.length > 0) {
    await state.db.runner.run(state.sql.deleteDone(done.length), done)
    pass.delivered = done.length
    stats.delivered += done.length
    stats.lastDeliveredAt = Date.now()
  }
}

/** The whole batch failed transiently: release it for the next attempt (expired rows die). */
export async function releaseAll(
  state: RelayState,
  sink: string,
  pass: RelayPass,
  rows: readonly Claimed[],
  error: OutboxError,
): Promise<void> {
  const stats = state.stats.get(sink) as SinkStats
  const message = describeError(error)
  const { maxAgeUs, id } = state.options
  const alive: number[] = []
  try {
    for (const row of rows) {
      if (row.ageUs >= maxAgeUs) await deadLetter(state, sink, pass, row, `expired after maxAge: ${message}`)
      else alive.push(row.seq)
    }
    if (alive.length > 0) {
      await state.db.runner.run(state.sql.releaseMany(alive.length), [message, id, ...alive])
    }
  } catch (sqlFailure) {
    // The lease expires by itself; the delivery failure is what the caller reports.
    if (state.events.listenerCount('error') > 0) state.events.emit('error', sqlError(sqlFailure, sink))
  }
  pass.retried += alive.length
  stats.retried += alive.length
  if (alive.length > 0 && state.events.listenerCount('retry') > 0) {
    state.events.emit('retry', { sink, count: alive.length, error })
  }
}

/** One effect to try again after its backoff, or a dead letter once past `maxAge`. */
async function retryOne(state: RelayState, sink: string, pass: RelayPass, row: Claimed, message: string) {
  const { maxAgeUs, retryDelayMs, maxRetryDelayMs, id } = state.options
  if (row.ageUs >= maxAgeUs) {
    await deadLetter(state, sink, pass, row, `expired after maxAge: ${message}`)
    return
  }
  const stats = state.stats.get(sink) as SinkStats
  const delayMs = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** Math.min(row.attempts, 30))
  // Half fixed, half jitter: spread, but never retried sooner than half the backoff.
  const jittered = delayMs / 2 + (Math.random() * delayMs) / 2
  await state.db.runner.run(state.sql.retryOne(), [
    message.slice(0, 2_000),
    Math.round(jittered * 1_000),
    row.seq,
    id,
  ])
  pass.retried++
  stats.retried++
  if (state.events.listenerCount('retry') > 0) {
    state.events.emit('retry', {
      sink,
      count: 1,
      error: new OutboxError('E_OUTBOX_SINK', message, { sink, seq: row.seq, retriable: true }),
    })
  }
}

/** Make one effect a dead letter, with the reason. */
export async function deadLetter(
  state: RelayState,
  sink: string,
  pass: RelayPass,
  row: Claimed,
  message: string,
): Promise<void> {
  const stats = state.stats.get(sink) as SinkStats
  await state.db.runner.run(state.sql.deadOne(), [message.slice(0, 2_000), row.seq, state.options.id])
  pass.deadLettered++
  stats.deadLettered++
  if (state.events.listenerCount('dead') > 0)
    state.events.emit('dead', { sink, seq: row.seq, error: message })
}
