/**
 * Sync on writes through a transactional outbox.
 *
 * Mechanism: the application writes its row and an outbox event in the same database
 * transaction (`outbox.enqueue(tx, ...)`, or a repository write wrapped with `@IndexOnWrite` /
 * `indexOnWrite` / `outbox.after`), so
 * an event exists if and only if the write committed. A worker drains the table in `seq` order:
 * it claims a batch with `SELECT ... FOR UPDATE SKIP LOCKED` (several workers never apply the same
 * event), sends it as one bulk request with `version_type: external` and deletes the applied rows
 * in the same transaction. That transaction runs at READ COMMITTED, so it locks only the claimed
 * rows (no gap lock): writers recording new events never wait for the engine. External versions make application order irrelevant: an event older
 * than the indexed document is answered 409 and counted as stale, never applied, so two
 * transactions committing out of order (or a redelivered batch) cannot make the index go back in
 * time. Deletes carry a version too; the engine keeps their tombstone for `index.gc_deletes`
 * (60 s by default), which bounds how late an older upsert may arrive after a delete.
 *
 * Engine down: the claim transaction is rolled back, events stay in the table, the worker backs
 * off exponentially and retries; `lag()` shows how many events wait and how old the oldest is.
 * An event the engine rejects for good (e.g. a mapping conflict) is retried `maxAttempts` times,
 * then kept as a dead letter (`deadLetters()`) instead of blocking the queue.
 */
import { EventEmitter } from 'node:events'
import { type Duration, toMs } from '../duration.js'
import type { SearchClient } from '../engine/search-client.js'
import { engineError, SearchError } from '../errors.js'

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
  /** Attempts before an event the engine rejects becomes a dead letter. @default 5 */
  maxAttempts?: number | undefined
}

/** Result of one drain pass. */
export interface DrainResult {
  /** Events claimed. */
  claimed: number
  /** Events applied to the index. */
  applied: number
  /** Events skipped because the index already holds a newer version. */
  stale: number
  /** Events rejected by the engine this time (kept for retry or dead-lettered). */
  rejected: number
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

/** Worker events: `drained` after each non-empty pass, `error` when a pass fails (the worker continues). */
export class OutboxWorker extends EventEmitter<{ drained: [DrainResult]; error: [SearchError] }> {
  readonly #outbox: Outbox
  readonly #options: Readonly<{
    search: SearchClient
    db: SqlConnectionSource
    batchSize: number
    pollMs: number
    maxBackoffMs: number
    maxAttempts: number
  }>
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
    this.#outbox = outbox
    this.#options = Object.freeze({
      search: options.search,
      db: options.db,
      batchSize,
      maxAttempts,
      pollMs: toMs(options.pollInterval ?? d.pollInterval, 'pollInterval'),
      maxBackoffMs: toMs(options.maxBackoff ?? d.maxBackoff, 'maxBackoff'),
    })
  }

  /**
   * Claim and apply one batch. Throws `E_SEARCH_ENGINE` (retriable) when the engine cannot be
   * reached; the batch then stays in the outbox.
   */
  async drainOnce(): Promise<DrainResult> {
    const { db, search, batchSize, maxAttempts } = this.#options
    const table = this.#outbox.table
    const connection = await db.getConnection()
    try {
      // READ COMMITTED for this transaction only: under InnoDB's default REPEATABLE READ the
      // claim's `FOR UPDATE` also locks the gap after the last event, so every writer recording an
      // event would wait until the engine answers this drain's bulk request.
      await connection.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
      await connection.beginTransaction()
      const rows = rowsOf<Row>(
        await connection.query(
          `SELECT seq, index_name, doc_id, op, version, payload, attempts FROM ${table} WHERE attempts < ? ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED`,
          [maxAttempts, batchSize],
        ),
      )
      if (rows.length === 0) {
        await connection.commit()
        return { claimed: 0, applied: 0, stale: 0, rejected: 0 }
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
      const client = await search.raw()
      let response: {
        items?: Array<Record<string, { status?: number; error?: { type?: string; reason?: string } }>>
      }
      try {
        response = (await client.transport.request({
          method: 'POST',
          path: '/_bulk',
          bulkBody: body,
          querystring: { filter_path: 'items.*.status,items.*.error' },
        })) as typeof response
      } catch (error) {
        throw engineError(error)
      }
      const done: number[] = []
      const result: DrainResult = { claimed: rows.length, applied: 0, stale: 0, rejected: 0 }
      for (const [i, row] of rows.entries()) {
        const item = response.items?.[i]
        const answer = item ? Object.values(item)[0] : undefined
        const status = answer?.status ?? 0
        if (status >= 200 && status < 300) {
          result.applied++
          done.push(row.seq)
        } else if (status === 409 || (status === 404 && row.op === 'delete')) {
          // 409: the index holds a newer version; 404: deleting what is not there. Both are final.
          result.stale++
          done.push(row.seq)
        } else {
          result.rejected++
          await connection.query(
            `UPDATE ${table} SET attempts = attempts + 1, last_error = ? WHERE seq = ?`,
            [
              `${status} ${answer?.error?.type ?? 'unknown'}: ${answer?.error?.reason ?? 'no reason'}`.slice(
                0,
                2_000,
              ),
              row.seq,
            ],
          )
        }
      }
      if (done.length > 0) await connection.query(`DELETE FROM ${table} WHERE seq IN (?)`, [done])
      await connection.commit()
      return result
    } catch (error) {
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

  /** Drain until the outbox is empty (dead letters excluded). */
  async drainAll(): Promise<DrainResult> {
    const total: DrainResult = { claimed: 0, applied: 0, stale: 0, rejected: 0 }
    for (;;) {
      const pass = await this.drainOnce()
      total.claimed += pass.claimed
      total.applied += pass.applied
      total.stale += pass.stale
      total.rejected += pass.rejected
      if (pass.claimed < this.#options.batchSize && pass.rejected === 0) return total
    }
  }

  /** Run in the background until {@link stop}. Failures are emitted as `error` and retried with backoff. */
  start(): void {
    if (this.#running) return
    this.#stopping = false
    this.#running = this.#loop()
  }

  async #loop(): Promise<void> {
    let failures = 0
    while (!this.#stopping) {
      let wait = this.#options.pollMs
      try {
        const result = await this.drainOnce()
        failures = 0
        if (result.claimed > 0) {
          this.emit('drained', result)
          if (result.claimed === this.#options.batchSize) wait = 0
        }
      } catch (error) {
        failures++
        wait = Math.random() * Math.min(this.#options.maxBackoffMs, this.#options.pollMs * 2 ** failures)
        const wrapped = error instanceof SearchError ? error : engineError(error)
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

  /** A worker that drains this outbox into the engine. */
  worker(options: OutboxWorkerOptions): OutboxWorker {
    return new OutboxWorker(this, options)
  }
}

/** Create a transactional outbox over a SQL table. */
export function createOutbox(options: OutboxOptions = {}): Outbox {
  return new Outbox(options)
}
