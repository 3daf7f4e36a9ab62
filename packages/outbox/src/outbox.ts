/**
 * The transactional outbox. A committed write records every effect it still owes the copies of
 * its data (a search document, a Kafka event for the dashboards, cache invalidations) as rows of
 * the outbox table, in its own transaction: the effects exist if and only if the write committed.
 * A relay ({@link OutboxRelay}) delivers them afterwards, at least once, for as long as a copy is
 * unreachable; every sink is idempotent, so the effect on each copy is exactly once.
 *
 * The outbox constructs relays, never the reverse: a relay takes the outbox as a `RelayTable` (its
 * dialect and statements) and reads the backlog with the leaf `sql/lag.ts`, so the imports run one
 * way (outbox -> relay).
 *
 * The write path may still invalidate and publish at once, for latency; the outbox is the
 * guarantee. A write never fails because a copy is unreachable: it fails only when the database
 * itself refuses the rows (then the whole transaction rolls back, business row included).
 */

import { encodeEffect, type OutboxEffect } from './effects.js'
import { describeError, OutboxError } from './errors.js'
import { rejectUnknownKeys } from './option-keys.js'
import type { OutboxRelayOptions } from './relay/options.js'
import { OutboxRelay } from './relay/relay.js'
import { type DialectSql, dialectSql, isIdentifier, type SqlDialect } from './sql/dialect.js'
import { type OutboxLag, readLag } from './sql/lag.js'
import { type SqlHandle, type SqlRunner, toRunner } from './sql/runner.js'

/** Options of {@link createOutbox}. */
export interface OutboxOptions {
  /** Outbox table (a plain identifier: letters, digits, `_`). @default 'ayala_outbox' */
  table?: string | undefined
  /** SQL dialect of the database. @default 'mysql' (MariaDB and MySQL) */
  dialect?: SqlDialect | undefined
}

/** Defaults of {@link OutboxOptions}. */
export const DEFAULT_OUTBOX_OPTIONS = Object.freeze({
  table: 'ayala_outbox',
  dialect: 'mysql' as SqlDialect,
})

/** A dead letter: an effect a sink refused for good, or that kept failing past `maxAge`. */
export interface DeadLetter {
  seq: number
  sink: string
  /** The recorded payload (parsed JSON; the raw text when it does not parse). */
  payload: unknown
  attempts: number
  /** The sink's last answer. */
  lastError: string
  createdAt: Date
  deadAt: Date
}

/** Which dead letters a call selects: all, one sink's, or the given sequence numbers. */
export interface DeadLetterSelection {
  /** Only this sink's dead letters. */
  sink?: string | undefined
  /** Only these sequence numbers. */
  seqs?: readonly number[] | undefined
}

const OPTION_KEYS = new Set(Object.keys(DEFAULT_OUTBOX_OPTIONS))

function toDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value))
}

function checkSeqs(seqs: readonly number[] | undefined): number[] {
  const list = seqs === undefined ? [] : [...seqs]
  for (const seq of list) {
    if (!Number.isSafeInteger(seq) || seq < 1) {
      throw new OutboxError('E_OUTBOX_INVALID_OPTION', `seqs must be positive integers, got ${seq}`)
    }
  }
  return list
}

/** A transactional outbox over one table. Create with {@link createOutbox}. */
export class Outbox {
  /** The dialect of its SQL. */
  readonly dialect: SqlDialect
  /** The table name (unquoted). */
  readonly tableName: string
  /** @internal The statements. */
  readonly sql: DialectSql

  constructor(options: OutboxOptions = {}) {
    rejectUnknownKeys(options, OPTION_KEYS, 'outbox')
    const table = options.table ?? DEFAULT_OUTBOX_OPTIONS.table
    if (!isIdentifier(table)) {
      throw new OutboxError('E_OUTBOX_INVALID_OPTION', `table must be a plain SQL identifier, got "${table}"`)
    }
    const dialect = options.dialect ?? DEFAULT_OUTBOX_OPTIONS.dialect
    if (dialect !== 'mysql' && dialect !== 'postgres') {
      throw new OutboxError(
        'E_OUTBOX_INVALID_OPTION',
        `dialect must be 'mysql' or 'postgres', got "${dialect}"`,
      )
    }
    this.dialect = dialect
    this.tableName = table
    this.sql = dialectSql(dialect, table)
  }

  /** Create the outbox table (and its index) if it does not exist. */
  async ensureTable(db: SqlHandle): Promise<void> {
    const runner = this.#runner(db)
    try {
      for (const statement of this.sql.createTable()) await runner.run(statement, [])
    } catch (error) {
      throw new OutboxError('E_OUTBOX_SQL', `creating ${this.sql.table} failed: ${describeError(error)}`, {
        retriable: true,
        cause: error,
      })
    }
  }

  /**
   * Record `effects` in the caller's transaction: pass the handle that runs the transaction writing
   * the business rows (a mariadb/mysql2 connection, a pg client, or the `tx` of a Prisma
   * interactive transaction). Record them after the statement that writes (and so locks) the
   * business row, so that effects of two writes of one row are sequenced as the writes are.
   *
   * @throws OutboxError `E_OUTBOX_INVALID_EFFECT` for a malformed effect (nothing is recorded);
   * `E_OUTBOX_SQL` when the insert fails (the caller's transaction must roll back)
   */
  async enqueue(tx: SqlHandle, effects: OutboxEffect | readonly OutboxEffect[]): Promise<void> {
    const list: readonly OutboxEffect[] = Array.isArray(effects) ? effects : [effects as OutboxEffect]
    if (list.length === 0) return
    const params: unknown[] = []
    for (const effect of list) params.push(effect.sink, encodeEffect(effect))
    const runner = this.#runner(tx)
    try {
      await runner.run(this.sql.insert(list.length), params)
    } catch (error) {
      throw new OutboxError(
        'E_OUTBOX_SQL',
        `recording ${list.length} effect(s) in ${this.sql.table} failed: ${describeError(error)}`,
        {
          sink: list[0]?.sink,
          retriable: true,
          cause: error,
        },
      )
    }
  }

  /** Backlog per sink (sinks with no row are absent). */
  lag(db: SqlHandle): Promise<Record<string, OutboxLag>> {
    return readLag(this.#runner(db), this.sql)
  }

  /** Dead letters, oldest first. */
  async deadLetters(
    db: SqlHandle,
    options: { sink?: string | undefined; limit?: number | undefined } = {},
  ): Promise<DeadLetter[]> {
    const limit = options.limit ?? 100
    if (!Number.isInteger(limit) || limit < 1) {
      throw new OutboxError('E_OUTBOX_INVALID_OPTION', `limit must be a positive integer, got ${limit}`)
    }
    const bySink = options.sink !== undefined
    const params = bySink ? [options.sink, limit] : [limit]
    const { rows } = await this.#runner(db).run(this.sql.deadLetters(bySink), params)
    return rows.map((row) => {
      let payload: unknown = row.payload
      try {
        payload = JSON.parse(String(row.payload))
      } catch {
        // A payload that is not JSON is shown as its text: that is why it is a dead letter.
      }
      return {
        seq: Number(row.seq),
        sink: String(row.sink),
        payload,
        attempts: Number(row.attempts),
        lastError: String(row.last_error ?? ''),
        createdAt: toDate(row.created_at),
        deadAt: toDate(row.dead_at),
      }
    })
  }

  /**
   * Make dead letters deliverable again (after the cause was fixed): attempts and `maxAge` start
   * over. Returns how many were replayed.
   */
  async replayDeadLetters(db: SqlHandle, selection: DeadLetterSelection = {}): Promise<number> {
    const seqs = checkSeqs(selection.seqs)
    const bySink = selection.sink !== undefined
    const params = bySink ? [selection.sink, ...seqs] : seqs
    const { affected } = await this.#runner(db).run(this.sql.replay(bySink, seqs.length), params)
    return affected
  }

  /** Delete dead letters for good. Returns how many were deleted. */
  async purgeDeadLetters(db: SqlHandle, selection: DeadLetterSelection = {}): Promise<number> {
    const seqs = checkSeqs(selection.seqs)
    const bySink = selection.sink !== undefined
    const params = bySink ? [selection.sink, ...seqs] : seqs
    const { affected } = await this.#runner(db).run(this.sql.purge(bySink, seqs.length), params)
    return affected
  }

  /** A relay delivering this outbox's effects to `options.sinks`; call `start()` to run it. */
  relay(options: OutboxRelayOptions): OutboxRelay {
    return new OutboxRelay(this, options)
  }

  #runner(db: SqlHandle): SqlRunner {
    return toRunner(db, this.dialect)
  }
}

/** Create a transactional outbox over a SQL table (MariaDB/MySQL by default, or PostgreSQL). */
export function createOutbox(options: OutboxOptions = {}): Outbox {
  return new Outbox(options)
}
