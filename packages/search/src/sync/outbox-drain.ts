/**
 * One drain pass of the search outbox: claim a batch, apply it, settle every row, in one
 * database transaction.
 *
 * Mechanism: the pass claims up to `batchSize` events in `seq` order with `SELECT ... FOR UPDATE
 * SKIP LOCKED` (several workers never apply the same event), sends them as one bulk request with
 * `version_type: external` ({@link applyBulkBody}) and deletes the applied rows in the same
 * transaction. That transaction runs at READ COMMITTED, so it locks only the claimed rows (no
 * gap lock): writers recording new events never wait for the engine. External versions make
 * application order irrelevant: an event older than the indexed document is answered 409 and
 * counted as stale, never applied, so two transactions committing out of order (or a
 * redelivered batch) cannot make the index go back in time. Deletes carry a version too; the
 * engine keeps their tombstone for `index.gc_deletes` (60 s by default), which bounds how late an
 * older upsert may arrive after a delete.
 *
 * Transient and permanent failures are told apart per event (see `apply-index-events.ts`):
 * - Engine unreachable, or an event it refuses for now (429, 5xx, `index.blocks.write`, an
 *   index being recreated): the event stays in the table with its `attempts` unchanged and is
 *   claimed again, in order, by a later pass, up to `maxAge` after the event was recorded
 *   (measured on the database clock). Only then does it become a dead letter.
 * - An event the engine rejects for good (a mapping conflict) counts one attempt per rejection;
 *   at the worker's limit it is kept as a dead letter instead of blocking the queue, and the
 *   events behind it are applied.
 */
import { engineError } from '../engine/engine-error.js'
import { SearchError } from '../errors.js'
import { rowsOf } from '../sql.js'
import { applyBulkBody, type IndexEventResult } from './apply-index-events.js'
import type { ResolvedOutboxWorkerOptions } from './outbox-options.js'
import type { DeadLetter, OutboxRow } from './outbox-table.js'

/** Result of one drain pass. */
export interface DrainResult {
  /** Events claimed. */
  claimed: number
  /** Events applied to the index. */
  applied: number
  /** Events skipped because the index already holds a newer version. */
  stale: number
  /** Events the engine rejected for good this time (one attempt counted; dead letters at the limit). */
  rejected: number
  /** Events the engine refused for now (kept, attempts unchanged; claimed again after a backoff). */
  retried: number
  /** Events that became dead letters in this pass (the rejection limit, or `maxAge` reached). */
  deadLettered: number
}

/** What a pass needs of its worker: the options, the table, and where its outcome is counted. */
export interface DrainState {
  readonly options: ResolvedOutboxWorkerOptions
  readonly table: string
  /** Count a pass's outcome (also when the pass then throws) and emit its dead letters. */
  record(result: DrainResult, dead: readonly DeadLetter[]): void
  /** The first transient refusal of the pass, for the worker's `lastError`. */
  refused(error: string | undefined): void
}

/**
 * Claim and apply one batch. Throws `E_SEARCH_ENGINE` (retriable) when the engine cannot be
 * reached; the batch then stays in the outbox (events past `maxAge` become dead letters).
 */
export async function drainOnce(state: DrainState): Promise<DrainResult> {
  const { db, search, batchSize, maxAttempts, maxAgeMs } = state.options
  const table = state.table
  const connection = await db.getConnection()
  const dead: DeadLetter[] = []
  try {
    // READ COMMITTED for this transaction only: under InnoDB's default REPEATABLE READ the
    // claim's `FOR UPDATE` also locks the gap after the last event, so every writer recording an
    // event would wait until the engine answers this drain's bulk request.
    await connection.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
    await connection.beginTransaction()
    // The age is measured on the database clock (the one that wrote created_at).
    const rows = rowsOf<OutboxRow & { age_ms: number | string | null }>(
      await connection.query(
        `SELECT seq, index_name, doc_id, op, version, payload, attempts, TIMESTAMPDIFF(MICROSECOND, created_at, CURRENT_TIMESTAMP(3)) DIV 1000 AS age_ms FROM ${table} WHERE attempts < ? ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED`,
        [maxAttempts, batchSize],
      ),
    )
    const result: DrainResult = {
      claimed: rows.length,
      applied: 0,
      stale: 0,
      rejected: 0,
      retried: 0,
      deadLettered: 0,
    }
    if (rows.length === 0) {
      await connection.commit()
      return result
    }
    let body = ''
    for (const row of rows) {
      const meta = {
        _index: row.index_name,
        _id: row.doc_id,
        version: Number(row.version),
        version_type: 'external',
      }
      body +=
        row.op === 'delete'
          ? `${JSON.stringify({ delete: meta })}\n`
          : `${JSON.stringify({ index: meta })}\n${row.payload ?? '{}'}\n`
    }
    const expired = (row: { age_ms: number | string | null }) => Number(row.age_ms ?? 0) >= maxAgeMs
    const markDead = async (row: OutboxRow, attempts: number, lastError: string) => {
      await connection.query(`UPDATE ${table} SET attempts = ?, last_error = ? WHERE seq = ?`, [
        attempts,
        lastError.slice(0, 2_000),
        row.seq,
      ])
      result.deadLettered++
      dead.push({
        seq: Number(row.seq),
        index: row.index_name,
        id: row.doc_id,
        op: row.op,
        version: Number(row.version),
        attempts,
        lastError: lastError.slice(0, 2_000),
      })
    }
    let answers: IndexEventResult[]
    try {
      answers = await applyBulkBody(
        search,
        rows.map((row) => ({ op: row.op, index: row.index_name })),
        body,
      )
    } catch (error) {
      const failure = engineError(error)
      const old = rows.filter(expired)
      if (old.length === 0) {
        await connection.rollback()
      } else {
        // Events retried for maxAge while the engine stayed unreachable: dead letters now.
        for (const row of old)
          await markDead(row, maxAttempts, `expired after ${maxAgeMs} ms: ${failure.message}`)
        await connection.commit()
        state.record(result, dead)
      }
      throw failure
    }
    const done: number[] = []
    for (const [i, row] of rows.entries()) {
      const answer = answers[i] as IndexEventResult
      if (answer.status === 'applied' || answer.status === 'stale') {
        result[answer.status]++
        done.push(row.seq)
      } else if (answer.status === 'retry') {
        result.retried++
        if (expired(row)) await markDead(row, maxAttempts, `expired after ${maxAgeMs} ms: ${answer.error}`)
        else
          await connection.query(`UPDATE ${table} SET last_error = ? WHERE seq = ?`, [
            answer.error ?? 'retry',
            row.seq,
          ])
      } else {
        result.rejected++
        const attempts = Number(row.attempts) + 1
        if (attempts >= maxAttempts) await markDead(row, attempts, answer.error ?? 'rejected')
        else
          await connection.query(`UPDATE ${table} SET attempts = ?, last_error = ? WHERE seq = ?`, [
            attempts,
            answer.error ?? 'rejected',
            row.seq,
          ])
      }
    }
    if (done.length > 0) await connection.query(`DELETE FROM ${table} WHERE seq IN (?)`, [done])
    await connection.commit()
    state.record(result, dead)
    if (result.retried > 0) state.refused(answers.find((answer) => answer.status === 'retry')?.error)
    return result
  } catch (error) {
    if (error instanceof SearchError && error.code === 'E_SEARCH_ENGINE') throw error
    await connection.rollback()
    throw error instanceof SearchError
      ? error
      : new SearchError('E_SEARCH_OUTBOX', `Outbox drain failed: ${String(error)}`, {
          cause: error,
          retriable: true,
        })
  } finally {
    await connection.release()
  }
}
