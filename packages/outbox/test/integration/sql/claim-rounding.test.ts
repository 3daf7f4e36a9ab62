/**
 * PostgreSQL stores a `timestamptz(3)` rounded to the NEAREST millisecond, so an effect's
 * `available_at` (its column default `now()`, or a replay's `now()`) may lie up to 0.5 ms after
 * the `now()` of a claim that follows at once; the claim must not skip it (a drain right after a
 * replay once returned with the replayed dead letter still pending: a CI run of contract.test.ts).
 * Deterministic form: the insert and the claim in ONE transaction share one `now()`, so about half
 * of the rows are stored "in the future" of it; every one must be claimed.
 */
import { uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dialectSql } from '../../../src/sql/dialect.ts'
import { type DriverUnderTest, pgDriver } from '../../helpers/databases.ts'

describe('claims on PostgreSQL and its millisecond rounding', () => {
  let db: DriverUnderTest
  const table = uniqueName('outbox_rounding').replace(/-/g, '_')
  const sql = dialectSql('postgres', table)

  beforeAll(async () => {
    db = pgDriver()
    for (const statement of sql.createTable()) await db.exec(statement)
  })

  afterAll(async () => {
    await db?.exec(`DROP TABLE IF EXISTS "${table}"`)
    await db?.close()
  })

  it('a row written in the claim transaction (same now()) is claimable', async () => {
    const pool = db.pool as unknown as {
      connect(): Promise<{
        query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>
        release(): void
      }>
    }
    const rounds = 40
    let skipped = 0
    let future = 0
    for (let i = 0; i < rounds; i++) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        await client.query(sql.insert(1), ['copy', JSON.stringify({ n: i })])
        const ahead = await client.query(
          `SELECT count(*)::int AS n FROM "${table}" WHERE available_at > now()`,
        )
        future += (ahead.rows[0] as { n: number }).n > 0 ? 1 : 0
        const claimed = await client.query(sql.claimReturning() as string, [
          'relay-test',
          30_000_000,
          'copy',
          10,
        ])
        if (claimed.rows.length !== 1) skipped++
        await client.query('ROLLBACK')
      } finally {
        client.release()
      }
    }
    console.log(`pg rounding: ${future} of ${rounds} rows stored after now(); ${skipped} not claimed`)
    expect(skipped).toBe(0)
  })
})
