/**
 * Claim. In one short READ COMMITTED transaction, select the sink's oldest deliverable rows
 * (`FOR UPDATE SKIP LOCKED`: rows of writers still in flight, and rows another relay is claiming,
 * are skipped, never waited for) and stamp them with this relay's id and a lease
 * (`claimTimeout`). The transaction commits before anything is delivered: no database lock or
 * pooled connection is held while a sink is slow or hung. PostgreSQL claims in one
 * `UPDATE ... RETURNING`; MariaDB/MySQL select then mark, in the same transaction.
 *
 * A relay that crashed holds leases until they expire; one restarted under the same `id` releases
 * them at start ({@link releaseOwnClaims}), so its batch is delivered at once.
 */
import type { SqlRow } from '../sql/runner.js'
import { type Claimed, type RelayState, sqlError } from './state.js'

/** Claim the oldest deliverable rows of `sink` (at most `batchSize`), oldest first. */
export async function claim(state: RelayState, sink: string): Promise<Claimed[]> {
  const { batchSize, claimTimeoutMs, id } = state.options
  const sql = state.sql
  const leaseUs = claimTimeoutMs * 1_000
  const returning = sql.claimReturning()
  const rows: SqlRow[] = await state.db.transaction(async (tx) => {
    if (returning !== undefined) return (await tx.run(returning, [id, leaseUs, sink, batchSize])).rows
    const selected = (await tx.run(sql.selectClaimable(), [sink, batchSize])).rows
    if (selected.length > 0) {
      await tx.run(sql.markClaimed(selected.length), [id, leaseUs, ...selected.map((row) => row.seq)])
    }
    return selected
  })
  return rows
    .map((row) => ({
      seq: Number(row.seq),
      payload: String(row.payload),
      attempts: Number(row.attempts),
      ageUs: Number(row.age_us ?? 0),
    }))
    .sort((a, b) => a.seq - b.seq)
}

/**
 * Release the leases held under this relay's id (by a previous incarnation that crashed). A table
 * that cannot be reached now is tolerated: the leases expire by themselves, and the failure is
 * emitted as `error` (the loops report the outage too).
 */
export async function releaseOwnClaims(state: RelayState): Promise<void> {
  try {
    await state.db.runner.run(state.sql.releaseOwn(), [state.options.id])
  } catch (error) {
    if (state.events.listenerCount('error') > 0) state.events.emit('error', sqlError(error, '*'))
  }
}
