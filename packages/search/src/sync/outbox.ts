/**
 * Sync on writes through a transactional outbox.
 *
 * @deprecated in favour of `@ayala/outbox` (one outbox for every derived copy: search
 * documents, Kafka events, cache tags) whose search sink applies events with the same
 * {@link applyIndexEvents}. This module stays supported; it is not removed.
 *
 * Mechanism: the application writes its row and an outbox event in the same database
 * transaction (`outbox.enqueue(tx, ...)`, or a repository write wrapped with `@IndexOnWrite` /
 * `indexOnWrite` / `outbox.after`), so an event exists if and only if the write committed. A
 * worker ({@link OutboxWorker}, `outbox-worker.ts`) drains the table in `seq` order, one
 * transaction per pass (`outbox-drain.ts`: the claim, external versions, transient versus
 * permanent refusals), backing off while the engine refuses. Events rejected for good are kept as
 * dead letters; `lag()` shows how many events wait, how old the oldest is and how many are dead;
 * `replayDeadLetters()` puts them back. Events are checked here, before they reach the table: an
 * event the worker could never apply is refused at `enqueue`.
 */

import { SearchError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'
import { quoteIdentifier, rowsOf, type SqlExecutor } from '../sql.js'
import type { applyIndexEvents } from './apply-index-events.js'
import type { OutboxEvent } from './outbox-event.js'
import {
  DEFAULT_OUTBOX_OPTIONS,
  type DeadLetterLimitOptions,
  deadLetterThreshold,
  type OutboxOptions,
  type OutboxWorkerOptions,
} from './outbox-options.js'
import { type DeadLetter, type OutboxRow, outboxTableDdl } from './outbox-table.js'
import { OutboxWorker } from './outbox-worker.js'

/** Outbox backlog. */
export interface OutboxLag {
  /** Events waiting (dead letters excluded). */
  pending: number
  /** Age of the oldest waiting event in ms, or null when none. */
  oldestAgeMs: number | null
  /** Events kept as dead letters. */
  dead: number
}

const KNOWN_OUTBOX_OPTIONS: ReadonlySet<string> = new Set(['table'])
const KNOWN_REPLAY_OPTIONS: ReadonlySet<string> = new Set(['retries', 'maxAttempts', 'seqs'])

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

/** A transactional outbox. Create with {@link createOutbox}. */
export class Outbox {
  /** Quoted table name. */
  readonly table: string

  constructor(options: OutboxOptions = {}) {
    checkOptionKeys(options, KNOWN_OUTBOX_OPTIONS, 'createOutbox')
    this.table = quoteIdentifier(options.table ?? DEFAULT_OUTBOX_OPTIONS.table, 'table')
  }

  /** Create the outbox table if it does not exist (MariaDB/MySQL DDL). */
  async ensureTable(db: SqlExecutor): Promise<void> {
    await db.query(outboxTableDdl(this.table))
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

  /** Backlog figures; give the worker's `retries` when it is not the default. */
  async lag(db: SqlExecutor, options: DeadLetterLimitOptions = {}): Promise<OutboxLag> {
    const maxAttempts = deadLetterThreshold(options, 'outbox.lag')
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
  async deadLetters(db: SqlExecutor, options: DeadLetterLimitOptions = {}): Promise<DeadLetter[]> {
    const maxAttempts = deadLetterThreshold(options, 'outbox.deadLetters')
    const rows = rowsOf<OutboxRow & { last_error: string | null }>(
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
   * Give dead letters another `retries` and `maxAge` (`attempts` set back to 0, the age counted
   * from now): after the mapping or the data was fixed, or the engine is back after `maxAge`.
   * `seqs` limits it to those events. @returns how many events were put back in the queue
   */
  async replayDeadLetters(
    db: SqlExecutor,
    options: DeadLetterLimitOptions & { seqs?: readonly number[] | undefined } = {},
  ): Promise<number> {
    const maxAttempts = deadLetterThreshold(options, 'outbox.replayDeadLetters', KNOWN_REPLAY_OPTIONS)
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
 * (retries with backoff up to `maxAge`, dead letters after `retries + 1` permanent rejections)
 * and is not removed.
 */
export function createOutbox(options: OutboxOptions = {}): Outbox {
  return new Outbox(options)
}
