/**
 * Options of the search outbox and its worker: one `DEFAULT_OUTBOX_OPTIONS`, resolved once per
 * worker into a frozen object (durations in ms). The outbox itself and its worker both read it,
 * so it lives apart from either.
 */
import { type Duration, toMs } from '../duration.js'
import type { SearchClient } from '../engine/search-client.js'
import { SearchError } from '../errors.js'
import type { SqlConnectionSource } from '../sql.js'

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

/** A worker's options, resolved (durations in ms). */
export interface ResolvedOutboxWorkerOptions {
  readonly search: SearchClient
  readonly db: SqlConnectionSource
  readonly batchSize: number
  readonly pollMs: number
  readonly maxBackoffMs: number
  /** Permanent rejections at which an event is a dead letter (the `attempts` column reaches it). */
  readonly maxAttempts: number
  readonly maxAgeMs: number
}

/** Validate a worker's options once. @throws SearchError `E_SEARCH_INVALID_OPTION` */
export function resolveOutboxWorkerOptions(options: OutboxWorkerOptions): ResolvedOutboxWorkerOptions {
  const d = DEFAULT_OUTBOX_OPTIONS
  const batchSize = options.batchSize ?? d.batchSize
  const maxAttempts = options.maxAttempts ?? d.maxAttempts
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'batchSize must be a positive integer')
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'maxAttempts must be a positive integer')
  const maxAge = options.maxAge ?? d.maxAge
  return Object.freeze({
    search: options.search,
    db: options.db,
    batchSize,
    maxAttempts,
    pollMs: toMs(options.pollInterval ?? d.pollInterval, 'pollInterval'),
    maxBackoffMs: toMs(options.maxBackoff ?? d.maxBackoff, 'maxBackoff'),
    maxAgeMs: maxAge === Number.POSITIVE_INFINITY ? maxAge : toMs(maxAge, 'maxAge'),
  })
}
