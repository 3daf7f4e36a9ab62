/**
 * The backlog of an outbox table per sink, read with one statement of the dialect: what
 * `Outbox.lag()` answers and what a relay's `health()` judges. A leaf module, so that the outbox
 * and its relays both read it without importing each other.
 */
import type { DialectSql } from './dialect.js'
import type { SqlRunner } from './runner.js'

/** Backlog of one sink. */
export interface OutboxLag {
  /** Effects waiting for delivery (dead letters excluded). */
  pending: number
  /** Of those, effects that failed at least once. */
  retrying: number
  /** Dead letters. */
  dead: number
  /** Age of the oldest pending effect since its commit (ms), or null when none. */
  oldestAgeMs: number | null
}

/** Backlog per sink (sinks with no row are absent). */
export async function readLag(runner: SqlRunner, sql: DialectSql): Promise<Record<string, OutboxLag>> {
  const { rows } = await runner.run(sql.lag(), [])
  const out: Record<string, OutboxLag> = {}
  for (const row of rows) {
    const oldest = row.oldest_us
    out[String(row.sink)] = {
      pending: Number(row.pending ?? 0),
      retrying: Number(row.retrying ?? 0),
      dead: Number(row.dead ?? 0),
      oldestAgeMs: oldest === null || oldest === undefined ? null : Math.max(0, Number(oldest) / 1_000),
    }
  }
  return out
}
