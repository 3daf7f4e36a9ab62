/**
 * Sync on writes through a transactional outbox.
 *
 * @deprecated in favour of `@ayala/outbox` (one outbox for every derived copy: search
 * documents, Kafka events, cache tags) whose search sink applies events with the same
 * {@link applyIndexEvents}. This module stays supported; it is not removed.
 *
 * Mechanism: the application writes its row and an outbox event in the same database
 * transaction (`outbox.enqueue(tx, ...)`, or a repository write wrapped with `@IndexOnWrite` /
 * `indexOnWrite` / `outbox.after`), so
 * an event exists if and only if the write committed. A worker drains the table in `seq` order:
 * it claims a batch with `SELECT ... FOR UPDATE SKIP LOCKED` (several workers never apply the same
 * event), sends it as one bulk request with `version_type: external` ({@link applyIndexEvents})
 * and deletes the applied rows in the same transaction. That transaction runs at READ COMMITTED,
 * so it locks only the claimed rows (no gap lock): writers recording new events never wait for
 * the engine. External versions make application order irrelevant: an event older
 * than the indexed document is answered 409 and counted as stale, never applied, so two
 * transactions committing out of order (or a redelivered batch) cannot make the index go back in
 * time. Deletes carry a version too; the engine keeps their tombstone for `index.gc_deletes`
 * (60 s by default), which bounds how late an older upsert may arrive after a delete.
 *
 * Transient and permanent failures are told apart per event (see `apply-index-events.ts`):
 * - Engine unreachable, or an event it refuses for now (429, 5xx, `index.blocks.write`, an
 *   index being recreated): the event stays in the table with its `attempts` unchanged, the
 *   worker backs off exponentially (full jitter, up to `maxBackoff`) and claims it again, in
 *   order, for as long as the engine refuses, up to `maxAge` after the event was recorded
 *   (measured on the database clock). Only then does it become a dead letter.
 * - An event the engine rejects for good (a mapping conflict) counts one attempt per rejection;
 *   after `maxAttempts` it is kept as a dead letter (`deadLetters()`) instead of blocking the
 *   queue, and the events behind it are applied.
 * `lag()` shows how many events wait, how old the oldest is and how many are dead; the worker
 * emits `retry` and `dead-letter` and keeps cumulative figures (`stats()`).
 */
import { EventEmitter } from 'node:events'
import { type Duration, toMs } from '../duration.js'
import type { SearchClient } from '../engine/search-client.js'
import { engineError, SearchError } from '../errors.js'
import { applyBulkBody, type applyIndexEvents, type IndexEventResult } from './apply-index-events.js'

/** The part of a database connection the outbox uses (a mariadb/mysql2 connection or pool fits). */
export interface SqlExecutor {
  /** Run a parameterized query; returns rows for SELECT. */
  query(sql: string, params?: unknown[]): Promise<unknown>
}

/** A connection that can run a transaction (a mariadb `PoolConnection` fits). */
export interface SqlTransactionalConnection extends SqlExecutor {
  beginTransaction(): Promise<void>
  commit(): Promise<void>
  rollback(): Promise<void>
  release(): Promise<void> | void
}

/** Hands out connections for the worker (a mariadb `Pool` fits). */
export interface SqlConnectionSource extends SqlExecutor {
  getConnection(): Promise<SqlTransactionalConnection>
}

/** One change to mirror into the index. */
export type OutboxEvent =
  | { op: 'upsert'; index: string; id: string; version: number; document: unknown }
  | { op: 'delete'; index: string; id: string; version: number }

/** Options of {@link createOutbox}. */
export interface OutboxOptions {
  /** Outbox table name (letters, digits, `_`). @default 'search_outbox' */
  table?: string | undefined
}

/** Defaults of {@link OutboxOptions} and {@link OutboxWorkerOptions}. */
export const DEFAULT_OUTBOX_OPTIONS = Object.freeze({
  table: 'search_outbox',
  batchSize: 500,
  pollInterval: '500ms' as Duration,
  maxBackoff: '30s' as Duration,
  maxAttempts: 5,
  maxAge: '6h' as Duration,
})

/** Options of {@link Outbox.worker}. */
export interface OutboxWorkerOptions {
  /** Search client to apply events with. */
  search: SearchClient
  /** Database connections (a pool). */
  db: SqlConnectionSource
  /** Events per claim. @default 500 */
  batchSize?: number | undefined
  /** Wait between polls of an empty outbox (ms or `'500ms'`). @default '500ms' */
  pollInterval?: Duration | undefined
  /** Longest wait after failures (ms or `'30s'`). @default '30s' */
  maxBackoff?: Duration | undefined
  /**
   * Permanent rejections (mapping or parse errors) before an event becomes a dead letter.
   * Transient refusals (engine unreachable, 429, 5xx, write blocks) do not count.
   * @default 5
   */
  maxAttempts?: number | undefined
  /**
   * How long an event is retried while the engine refuses it for now, from the moment it was
   * recorded (ms or `'6h'`; database clock); then it becomes a dead letter. `Infinity`: forever.
   * @default '6h'
   */
  maxAge?: Duration | undefined
}

/** Result of one drain pass. */
export interface DrainResult {
  /** Events claimed. */
  claimed: number
  /** Events applied to the index. */
  applied: number
  /** Events skipped because the index already holds a newer version. */
  stale: number
  /** Events the engine rejected for good this time (one attempt counted; dead letters at `maxAttempts`). */
  rejected: number
  /** Events the engine refused for now (kept, attempts unchanged; claimed again after a backoff). */
  retried: number
  /** Events that became dead letters in this pass (`maxAttempts` rejections, or `maxAge` reached). */
  deadLettered: number
}

/** Cumulative figures of a worker since it was created (see {@link OutboxWorker.stats}). */
export interface OutboxWorkerStats {
  /** Events applied. */
  applied: number
  /** Events found stale (the index held a newer version). */
  stale: number
  /** Permanent rejections counted. */
  rejected: number
  /** Transient refusals of single events (each one retried later). */
  retried: number
  /** Events that became dead letters. */
  deadLettered: number
  /** Drain passes that failed as a whole (engine unreachable, database error). */
  failedPasses: number
  /** Passes in a row that ended in a failure or a transient refusal (0 once the engine accepts again). */
  consecutiveFailures: number
  /** The last failure or refusal, until a pass succeeds. */
  lastError: string | undefined
}

/** Payload of the worker's `retry` event: a pass the engine refused, the wait before the next. */
export interface OutboxRetryEvent {
  /** Events refused for now in this pass (0 when the request failed as a whole). */
  events: number
  /** Passes in a row that failed or were refused. */
  consecutiveFailures: number
  /** Wait before the next pass, in ms. */
  delayMs: number
  /** The engine's answer. */
  error: string
}

/** Outbox backlog. */
export interface OutboxLag {
  /** Events waiting (dead letters excluded). */
  pending: number
  /** Age of the oldest waiting event in ms, or null when none. */
  oldestAgeMs: number | null
  /** Events kept as dead letters. */
  dead: number
}

/** A dead-lettered event with the engine's last answer. */
export interface DeadLetter {
  seq: number
  index: string
  id: string
  op: 'upsert' | 'delete'
  version: number
  attempts: number
  lastError: string
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

interface Row {
  seq: number
  index_name: string
  doc_id: string
  op: 'upsert' | 'delete'
  version: number
  payload: string | null
  attempts: number
}

/** Reject an event the worker could never apply, before it reaches the table. */
function checkEvent(event: OutboxEvent): void {
  if (typeof event !== 'object' || event === null)
    throw new SearchError('E_SEARCH_INVALID_VALUE', 'Outbox event must be an object')
  const { op, index, id, version } = event
  if (op !== 'upsert' && op !== 'delete')
    throw new SearchError(
      'E_SEARCH_INVALID_VALUE',
      `Outbox event op must be 'upsert' or 'delete', got ${String(op)}`,
      {
        index,
      },
    )
  if (typeof index !== 'string' || index.length === 0 || index.length > 255)
    throw new SearchError(
      'E_SEARCH_INVALID_VALUE',
      'Outbox event index must be a non-empty string (<= 255 chars)',
    )
  if (typeof id !== 'string' || id.length === 0 || id.length > 512)
    throw new SearchError(
      'E_SEARCH_INVALID_VALUE',
      'Outbox event id must be a non-empty string (<= 512 chars)',
      {
        index,
      },
    )
  if (!Number.isSafeInteger(version) || version < 0)
    throw new SearchError('E_SEARCH_INVALID_VALUE', 'Outbox event version must be a non-negative integer', {
      index,
    })
  if (op === 'upsert' && (typeof event.document !== 'object' || event.document === null))
    throw new SearchError('E_SEARCH_INVALID_VALUE', 'Outbox upsert event document must be an object', {
      index,
    })
}

function rowsOf<T>(result: unknown): T[] {
  return Array.from(result as Iterable<T>)
}

/**
 * Drains an outbox into the engine. Events: `drained` after each non-empty pass, `retry` when a
 * pass failed or the engine refused events for now (with the wait before the next pass),
 * `dead-letter` for each event that became one, `error` when a pass fails (the worker continues).
 */
export class OutboxWorker extends EventEmitter<{
  drained: [DrainResult]
  retry: [OutboxRetryEvent]
  'dead-letter': [DeadLetter]
  error: [SearchError]
}> {
  readonly #outbox: Outbox
  readonly #options: Readonly<{
    search: SearchClient
    db: SqlConnectionSource
    batchSize: number
    pollMs: number
    maxBackoffMs: number
    maxAttempts: number
    maxAgeMs: number
  }>
  readonly #stats: OutboxWorkerStats = {
    applied: 0,
    stale: 0,
    rejected: 0,
    retried: 0,
    deadLettered: 0,
    failedPasses: 0,
    consecutiveFailures: 0,
    lastError: undefined,
  }
  #running: Promise<void> | undefined
  #stopping = false
  #wake: (() => void) | undefined

  constructor(outbox: Outbox, options: OutboxWorkerOptions) {
    super()
    const d = DEFAULT_OUTBOX_OPTIONS
    const batchSize = options.batchSize ?? d.batchSize
    const maxAttempts = options.maxAttempts ?? d.maxAttempts
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new SearchError('E_SEARCH_INVALID_OPTION', 'batchSize must be a positive integer')
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
      throw new SearchError('E_SEARCH_INVALID_OPTION', 'maxAttempts must be a positive integer')
    const maxAge = options.maxAge ?? d.maxAge
    this.#outbox = outbox
    this.#options = Object.freeze({
      search: options.search,
      db: options.db,
      batchSize,
      maxAttempts,
      pollMs: toMs(options.pollInterval ?? d.pollInterval, 'pollInterval'),
      maxBackoffMs: toMs(options.maxBackoff ?? d.maxBackoff, 'maxBackoff'),
      maxAgeMs: maxAge === Number.POSITIVE_INFINITY ? maxAge : toMs(maxAge, 'maxAge'),
    })
  }

  /** The `maxAttempts` this worker dead-letters at (give it to `outbox.lag()` / `deadLetters()`). */
  get maxAttempts(): number {
    return this.#options.maxAttempts
  }

  /** Cumulative figures since the worker was created. */
  stats(): Readonly<OutboxWorkerStats> {
    return { ...this.#stats }
  }

  /**
   * Claim and apply one batch. Throws `E_SEARCH_ENGINE` (retriable) when the engine cannot be
   * reached; the batch then stays in the outbox (events past `maxAge` become dead letters).
   */
  async drainOnce(): Promise<DrainResult> {
    const { db, search, batchSize, maxAttempts, maxAgeMs } = this.#options
    const table = this.#outbox.table
    const connection = await db.getConnection()
    const dead: DeadLetter[] = []
    try {
      // READ COMMITTED for this transaction only: under InnoDB's default REPEATABLE READ the
      // claim's `FOR UPDATE` also locks the gap after the last event, so every writer recording an
      // event would wait until the engine answers this drain's bulk request.
      await connection.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
      await connection.beginTransaction()
      // The age is measured on the database clock (the one that wrote created_at).
      const rows = rowsOf<Row & { age_ms: number | string | null }>(
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
      const markDead = async (row: Row, attempts: number, lastError: string) => {
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
          this.#count(result, dead)
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
      this.#count(result, dead)
      if (result.retried > 0) {
        const firstRefused = answers.find((answer) => answer.status === 'retry')
        this.#stats.lastError = firstRefused?.error
      }
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

  #count(result: DrainResult, dead: readonly DeadLetter[]): void {
    const stats = this.#stats
    stats.applied += result.applied
    stats.stale += result.stale
    stats.rejected += result.rejected
    stats.retried += result.retried
    stats.deadLettered += result.deadLettered
    if (this.listenerCount('dead-letter') > 0) for (const letter of dead) this.emit('dead-letter', letter)
  }

  /**
   * Drain until the outbox is empty (dead letters excluded), or until the engine refuses events
   * for now (the result's `retried` then says how many wait; call again later).
   */
  async drainAll(): Promise<DrainResult> {
    const total: DrainResult = { claimed: 0, applied: 0, stale: 0, rejected: 0, retried: 0, deadLettered: 0 }
    for (;;) {
      const pass = await this.drainOnce()
      total.claimed += pass.claimed
      total.applied += pass.applied
      total.stale += pass.stale
      total.rejected += pass.rejected
      total.retried += pass.retried
      total.deadLettered += pass.deadLettered
      if (pass.retried > 0) return total
      if (pass.claimed < this.#options.batchSize && pass.rejected === 0) return total
    }
  }

  /** Run in the background until {@link stop}. Failures are emitted as `error` and retried with backoff. */
  start(): void {
    if (this.#running) return
    this.#stopping = false
    this.#running = this.#loop()
  }

  #backoff(): number {
    const { maxBackoffMs, pollMs } = this.#options
    return Math.random() * Math.min(maxBackoffMs, Math.max(pollMs, 50) * 2 ** this.#stats.consecutiveFailures)
  }

  async #loop(): Promise<void> {
    const stats = this.#stats
    while (!this.#stopping) {
      let wait = this.#options.pollMs
      try {
        const result = await this.drainOnce()
        if (result.claimed > 0) this.emit('drained', result)
        if (result.retried > 0) {
          // The engine answered but refuses for now (a write block, 429s): back off as if down.
          stats.consecutiveFailures++
          wait = this.#backoff()
          if (this.listenerCount('retry') > 0)
            this.emit('retry', {
              events: result.retried,
              consecutiveFailures: stats.consecutiveFailures,
              delayMs: wait,
              error: stats.lastError ?? 'retry',
            })
        } else {
          stats.consecutiveFailures = 0
          stats.lastError = undefined
          if (result.claimed === this.#options.batchSize) wait = 0
        }
      } catch (error) {
        stats.failedPasses++
        stats.consecutiveFailures++
        wait = this.#backoff()
        const wrapped = error instanceof SearchError ? error : engineError(error)
        stats.lastError = wrapped.message
        if (this.listenerCount('retry') > 0)
          this.emit('retry', {
            events: 0,
            consecutiveFailures: stats.consecutiveFailures,
            delayMs: wait,
            error: wrapped.message,
          })
        if (this.listenerCount('error') > 0) this.emit('error', wrapped)
      }
      if (wait > 0 && !this.#stopping) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait)
          this.#wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        this.#wake = undefined
      }
    }
  }

  /** Stop the background loop after the current pass. */
  async stop(): Promise<void> {
    this.#stopping = true
    this.#wake?.()
    await this.#running
    this.#running = undefined
  }
}

/** A transactional outbox. Create with {@link createOutbox}. */
export class Outbox {
  /** Quoted table name. */
  readonly table: string

  constructor(options: OutboxOptions = {}) {
    const table = options.table ?? DEFAULT_OUTBOX_OPTIONS.table
    if (!IDENTIFIER.test(table)) {
      throw new SearchError('E_SEARCH_INVALID_OPTION', `table must be a plain SQL identifier, got "${table}"`)
    }
    this.table = `\`${table}\``
  }

  /** Create the outbox table if it does not exist (MariaDB/MySQL DDL). */
  async ensureTable(db: SqlExecutor): Promise<void> {
    await db.query(
      `CREATE TABLE IF NOT EXISTS ${this.table} (
        seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        index_name VARCHAR(255) NOT NULL,
        doc_id VARCHAR(512) NOT NULL,
        op VARCHAR(8) NOT NULL,
        version BIGINT NOT NULL,
        payload LONGTEXT NULL,
        attempts INT NOT NULL DEFAULT 0,
        last_error TEXT NULL,
        created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        KEY by_attempts (attempts, seq)
      )`,
    )
  }

  /**
   * Record events in the caller's transaction: pass the connection that runs the transaction
   * writing the rows.
   */
  async enqueue(tx: SqlExecutor, events: OutboxEvent | readonly OutboxEvent[]): Promise<void> {
    const list = Array.isArray(events) ? events : [events as OutboxEvent]
    if (list.length === 0) return
    const params: unknown[] = []
    for (const event of list) {
      checkEvent(event)
      params.push(
        event.index,
        event.id,
        event.op,
        event.version,
        event.op === 'upsert' ? JSON.stringify(event.document) : null,
      )
    }
    try {
      await tx.query(
        `INSERT INTO ${this.table} (index_name, doc_id, op, version, payload) VALUES ${list.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
        params,
      )
    } catch (error) {
      throw new SearchError('E_SEARCH_OUTBOX', `Outbox insert into ${this.table} failed: ${String(error)}`, {
        index: list[0]?.index,
        retriable: true,
        cause: error,
      })
    }
  }

  /**
   * Wrap a repository write so its outbox event is recorded in the same transaction. The wrapped
   * function receives the transaction connection first and returns the written entity; `toEvent`
   * maps it to the event (or `undefined` for no event).
   *
   * @example
   * const saveInvoice = outbox.after(rawSave, (invoice) => ({
   *   op: 'upsert', index: 'invoices', id: invoice.id, version: invoice.version, document: toDoc(invoice),
   * }))
   */
  after<Args extends unknown[], R>(
    write: (tx: SqlExecutor, ...args: Args) => Promise<R>,
    toEvent: (result: R, ...args: Args) => OutboxEvent | OutboxEvent[] | undefined,
  ): (tx: SqlExecutor, ...args: Args) => Promise<R> {
    return async (tx, ...args) => {
      const result = await write(tx, ...args)
      const events = toEvent(result, ...args)
      if (events) await this.enqueue(tx, events)
      return result
    }
  }

  /** Backlog figures. */
  async lag(db: SqlExecutor, options: { maxAttempts?: number | undefined } = {}): Promise<OutboxLag> {
    const maxAttempts = options.maxAttempts ?? DEFAULT_OUTBOX_OPTIONS.maxAttempts
    const [row] = rowsOf<{ pending: number | bigint; oldest: Date | null; dead: number | bigint | null }>(
      await db.query(
        `SELECT SUM(attempts < ?) AS pending, MIN(CASE WHEN attempts < ? THEN created_at END) AS oldest, SUM(attempts >= ?) AS dead FROM ${this.table}`,
        [maxAttempts, maxAttempts, maxAttempts],
      ),
    )
    const oldest = row?.oldest ? new Date(row.oldest).getTime() : null
    return {
      pending: Number(row?.pending ?? 0),
      oldestAgeMs: oldest === null ? null : Math.max(0, Date.now() - oldest),
      dead: Number(row?.dead ?? 0),
    }
  }

  /** Events the engine kept rejecting, with its last answer. */
  async deadLetters(
    db: SqlExecutor,
    options: { maxAttempts?: number | undefined } = {},
  ): Promise<DeadLetter[]> {
    const maxAttempts = options.maxAttempts ?? DEFAULT_OUTBOX_OPTIONS.maxAttempts
    const rows = rowsOf<Row & { last_error: string | null }>(
      await db.query(
        `SELECT seq, index_name, doc_id, op, version, attempts, last_error FROM ${this.table} WHERE attempts >= ? ORDER BY seq`,
        [maxAttempts],
      ),
    )
    return rows.map((row) => ({
      seq: Number(row.seq),
      index: row.index_name,
      id: row.doc_id,
      op: row.op,
      version: Number(row.version),
      attempts: Number(row.attempts),
      lastError: row.last_error ?? '',
    }))
  }

  /**
   * Give dead letters another `maxAttempts` and `maxAge` (`attempts` set back to 0, the age
   * counted from now): after the mapping
   * or the data was fixed, or the engine is back after `maxAge`. `seqs` limits it to those
   * events. @returns how many events were put back in the queue
   */
  async replayDeadLetters(
    db: SqlExecutor,
    options: { maxAttempts?: number | undefined; seqs?: readonly number[] | undefined } = {},
  ): Promise<number> {
    const maxAttempts = options.maxAttempts ?? DEFAULT_OUTBOX_OPTIONS.maxAttempts
    if (options.seqs !== undefined && options.seqs.length === 0) return 0
    const result = (await db.query(
      `UPDATE ${this.table} SET attempts = 0, created_at = CURRENT_TIMESTAMP(3) WHERE attempts >= ?${options.seqs ? ' AND seq IN (?)' : ''}`,
      options.seqs ? [maxAttempts, options.seqs] : [maxAttempts],
    )) as { affectedRows?: number }
    return Number(result.affectedRows ?? 0)
  }

  /** A worker that drains this outbox into the engine. */
  worker(options: OutboxWorkerOptions): OutboxWorker {
    return new OutboxWorker(this, options)
  }
}

/**
 * Create a transactional outbox over a SQL table.
 *
 * @deprecated Use `@ayala/outbox`: one transactional outbox for every derived copy (search
 * documents, Kafka events, cache tags), MariaDB/MySQL and PostgreSQL, whose search sink applies
 * events with {@link applyIndexEvents} exactly as this worker does. This outbox keeps working
 * (retries with backoff up to `maxAge`, dead letters after `maxAttempts` permanent rejections)
 * and is not removed.
 */
export function createOutbox(options: OutboxOptions = {}): Outbox {
  return new Outbox(options)
}
