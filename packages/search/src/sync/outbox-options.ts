/**
 * Options of the search outbox and its worker: one `DEFAULT_OUTBOX_OPTIONS`, resolved once per
 * worker into a frozen object (durations in ms). The outbox itself and its worker both read it,
 * so it lives apart from either.
 *
 * The one option vocabulary (docs/architecture.md): `maxRetryDelay` is the former `maxBackoff`
 * (same meaning), and `retries` replaces `maxAttempts`. `retries` counts the tries after the
 * first, `maxAttempts` counted them all, so the alias converts: `maxAttempts: n` is `retries:
 * n - 1` (the default `maxAttempts: 5` is `retries: 4`), and an event becomes a dead letter at its
 * `retries + 1`-th permanent rejection either way. The `attempts` column keeps counting attempts.
 */
import { type Duration, toMs } from '../duration.js'
import type { SearchClient } from '../engine/search-client.js'
import { SearchError } from '../errors.js'
import { checkOptionKeys, renamed } from '../option-keys.js'
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
  maxRetryDelay: '30s' as Duration,
  retries: 4,
  maxAge: '6h' as Duration,
  /** @deprecated The default of `maxRetryDelay`, under its old name. */
  maxBackoff: '30s' as Duration,
  /** @deprecated The default of `retries`, counted the old way (`retries + 1`). */
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
  /** Longest wait after failures or refusals (ms or `'30s'`). @default '30s' */
  maxRetryDelay?: Duration | undefined
  /**
   * Retries (tries after the first) of an event the engine rejects for good (mapping or parse
   * errors): its `retries + 1`-th permanent rejection makes it a dead letter. Transient refusals
   * (engine unreachable, 429, 5xx, write blocks) do not count. @default 4
   */
  retries?: number | undefined
  /**
   * How long an event is retried while the engine refuses it for now, from the moment it was
   * recorded (ms or `'6h'`; database clock); then it becomes a dead letter. `Infinity`: forever.
   * @default '6h'
   */
  maxAge?: Duration | undefined
  /**
   * @deprecated Renamed {@link OutboxWorkerOptions.maxRetryDelay} (same meaning); removed in the
   * next minor version (`AYALA_SEARCH_MAXBACKOFF`).
   */
  maxBackoff?: Duration | undefined
  /**
   * @deprecated Use {@link OutboxWorkerOptions.retries}, which counts one less: `maxAttempts: n`
   * is `retries: n - 1` (permanent rejections before a dead letter, the first one included);
   * removed in the next minor version (`AYALA_SEARCH_MAXATTEMPTS`). @default 5
   */
  maxAttempts?: number | undefined
}

/** Options of {@link Outbox.lag} and {@link Outbox.deadLetters}: which events are dead letters. */
export interface DeadLetterLimitOptions {
  /** The worker's `retries` (`worker.retries`): events at `retries + 1` attempts are dead. @default 4 */
  retries?: number | undefined
  /** @deprecated The old count, `retries + 1` (`AYALA_SEARCH_MAXATTEMPTS`). @default 5 */
  maxAttempts?: number | undefined
}

/** A worker's options, resolved (durations in ms). */
export interface ResolvedOutboxWorkerOptions {
  readonly search: SearchClient
  readonly db: SqlConnectionSource
  readonly batchSize: number
  readonly pollMs: number
  readonly maxRetryDelayMs: number
  /** Retries of a permanently rejected event. */
  readonly retries: number
  /** Attempts at which an event is a dead letter (`retries + 1`; the `attempts` column reaches it). */
  readonly maxAttempts: number
  readonly maxAgeMs: number
}

const KNOWN_WORKER_OPTIONS: ReadonlySet<string> = new Set([
  'search',
  'db',
  'batchSize',
  'pollInterval',
  'maxRetryDelay',
  'retries',
  'maxAge',
  'maxBackoff',
  'maxAttempts',
])

const KNOWN_LIMIT_OPTIONS: ReadonlySet<string> = new Set(['retries', 'maxAttempts'])

const MAX_BACKOFF = { from: 'maxBackoff', to: 'maxRetryDelay', code: 'AYALA_SEARCH_MAXBACKOFF' } as const
const MAX_ATTEMPTS = { from: 'maxAttempts', to: 'retries', code: 'AYALA_SEARCH_MAXATTEMPTS' } as const

/**
 * `retries` of `options`, or its deprecated alias `maxAttempts` converted (`maxAttempts - 1`),
 * each validated under the name given; both given: `E_SEARCH_INVALID_OPTION`.
 */
function resolveRetries(options: object, where: string): number {
  const given = renamed<number>(options, MAX_ATTEMPTS, where)
  if (given.value === undefined) return DEFAULT_OUTBOX_OPTIONS.retries
  const old = given.name === MAX_ATTEMPTS.from
  if (!Number.isInteger(given.value) || given.value < (old ? 1 : 0))
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      `${given.name} must be a ${old ? 'positive' : 'non-negative'} integer, got ${String(given.value)}`,
    )
  return old ? given.value - 1 : given.value
}

/**
 * The `attempts` at which an event is a dead letter, from the options of `lag()`,
 * `deadLetters()` or `replayDeadLetters()` (`known`: the method's keys). @throws SearchError
 * `E_SEARCH_INVALID_OPTION`
 */
export function deadLetterThreshold(
  options: object,
  method: string,
  known: ReadonlySet<string> = KNOWN_LIMIT_OPTIONS,
): number {
  checkOptionKeys(options, known, method)
  return resolveRetries(options, method) + 1
}

/** Validate a worker's options once. @throws SearchError `E_SEARCH_INVALID_OPTION` */
export function resolveOutboxWorkerOptions(options: OutboxWorkerOptions): ResolvedOutboxWorkerOptions {
  checkOptionKeys(options, KNOWN_WORKER_OPTIONS, 'outbox.worker')
  const d = DEFAULT_OUTBOX_OPTIONS
  const batchSize = options.batchSize ?? d.batchSize
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'batchSize must be a positive integer')
  const retries = resolveRetries(options, 'outbox.worker')
  const maxRetryDelay = renamed<Duration>(options, MAX_BACKOFF, 'outbox.worker')
  const maxAge = options.maxAge ?? d.maxAge
  return Object.freeze({
    search: options.search,
    db: options.db,
    batchSize,
    retries,
    maxAttempts: retries + 1,
    pollMs: toMs(options.pollInterval ?? d.pollInterval, 'pollInterval'),
    maxRetryDelayMs: toMs(maxRetryDelay.value ?? d.maxRetryDelay, maxRetryDelay.name),
    maxAgeMs: maxAge === Number.POSITIVE_INFINITY ? maxAge : toMs(maxAge, 'maxAge'),
  })
}
