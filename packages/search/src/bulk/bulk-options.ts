/**
 * Options of a bulk load: one `DEFAULT_BULK_OPTIONS`, resolved and validated once per load into a
 * frozen object (durations in ms) before the source is read. Unknown keys are refused by name;
 * the renamed options (`initialBatchSize`, `initialBackoff`, `maxBackoff`) are deprecated aliases
 * of `batchSize`, `retryDelay` and `maxRetryDelay` (`option-keys.ts`).
 */
import { type Duration, toMs } from '../duration.js'
import { SearchError } from '../errors.js'
import { checkOptionKeys, renamed } from '../option-keys.js'

/** Progress of a bulk load, passed to `onProgress` after each request. */
export interface BulkProgress {
  /** Documents read from the source so far. */
  read: number
  /** Documents the engine accepted. */
  indexed: number
  /** Documents rejected for good. */
  failed: number
  /** Documents skipped on a version conflict (409) that is expected: `create` of an existing id, or an older external version. */
  skipped: number
  /** Request or item retries so far. */
  retries: number
  /** Requests completed. */
  requests: number
  /** Current batch size (documents). */
  batchSize: number
  /** Elapsed time in ms. */
  elapsedMs: number
  /** Accepted documents per second since start. */
  docsPerSec: number
}

/** Options of a bulk load. */
export interface BulkOptions<D, C = unknown> {
  /** Target index or write alias. */
  index: string
  /** Document id. */
  idOf: (doc: D) => string
  /** `index` overwrites, `create` fails on existing ids. @default 'index' */
  action?: 'index' | 'create' | undefined
  /** External version of a document (`version_type: external`): an older version never overwrites a newer one. */
  versionOf?: ((doc: D) => number) | undefined
  /**
   * Documents in the first request (the starting size; the batch then adapts between it and
   * `maxBatchSize`). @default 100
   */
  batchSize?: number | undefined
  /**
   * @deprecated Renamed {@link BulkOptions.batchSize} (same meaning); removed in the next minor
   * version (`AYALA_SEARCH_INITIALBATCHSIZE`).
   */
  initialBatchSize?: number | undefined
  /** Most documents in one request (the byte cap usually binds first). @default 20000 */
  maxBatchSize?: number | undefined
  /**
   * Most NDJSON bytes in one request; the default is the official helper's flush size (10 MiB
   * requests were slower on OpenSearch: docs/search-bulk.md, "Measured").
   * @default 5242880 (5 MiB)
   */
  maxBatchBytes?: number | undefined
  /** Requests in flight at once. @default 2 */
  concurrency?: number | undefined
  /** Retries (tries after the first) of one batch or item (429, 502-504, transport errors). @default 5 */
  retries?: number | undefined
  /**
   * Backoff ceiling of the first retry, doubling with each retry (full jitter: the wait is random
   * between 0 and the ceiling); ms or `'100ms'`. @default '100ms'
   */
  retryDelay?: Duration | undefined
  /** Largest backoff ceiling (ms or `'10s'`). @default '10s' */
  maxRetryDelay?: Duration | undefined
  /**
   * @deprecated Renamed {@link BulkOptions.retryDelay} (same meaning); removed in the next minor
   * version (`AYALA_SEARCH_INITIALBACKOFF`).
   */
  initialBackoff?: Duration | undefined
  /**
   * @deprecated Renamed {@link BulkOptions.maxRetryDelay} (same meaning); removed in the next
   * minor version (`AYALA_SEARCH_MAXBACKOFF`).
   */
  maxBackoff?: Duration | undefined
  /** Switch the index to `refresh_interval: -1`, 0 replicas during the load and restore after. @default false */
  fastIngest?: boolean | undefined
  /** Refresh the index at the end. @default true */
  refresh?: boolean | undefined
  /** Throw a {@link BulkIndexError} at the end when documents were rejected. @default false */
  throwOnFailure?: boolean | undefined
  /** Called after each request. */
  onProgress?: ((progress: BulkProgress) => void) | undefined
  /** Position of a document in the source, saved as checkpoint (e.g. its keyset key). */
  checkpointOf?: ((doc: D) => C) | undefined
  /** Persist a checkpoint; awaited in order. */
  saveCheckpoint?: ((checkpoint: C) => Promise<void> | void) | undefined
}

/** Defaults of {@link BulkOptions}. */
export const DEFAULT_BULK_OPTIONS = Object.freeze({
  action: 'index' as 'index' | 'create',
  batchSize: 100,
  maxBatchSize: 20_000,
  maxBatchBytes: 5 * 1024 * 1024,
  concurrency: 2,
  retries: 5,
  retryDelay: '100ms' as Duration,
  maxRetryDelay: '10s' as Duration,
  fastIngest: false,
  refresh: true,
  throwOnFailure: false,
  /** @deprecated The default of `batchSize`, under its old name. */
  initialBatchSize: 100,
  /** @deprecated The default of `retryDelay`, under its old name. */
  initialBackoff: '100ms' as Duration,
  /** @deprecated The default of `maxRetryDelay`, under its old name. */
  maxBackoff: '10s' as Duration,
})

/** Every key of {@link BulkOptions}: any other is refused by name. */
const KNOWN_BULK_OPTIONS: ReadonlySet<string> = new Set([
  'index',
  'idOf',
  'action',
  'versionOf',
  'batchSize',
  'initialBatchSize',
  'maxBatchSize',
  'maxBatchBytes',
  'concurrency',
  'retries',
  'retryDelay',
  'maxRetryDelay',
  'initialBackoff',
  'maxBackoff',
  'fastIngest',
  'refresh',
  'throwOnFailure',
  'onProgress',
  'checkpointOf',
  'saveCheckpoint',
])

/** Options renamed to the one vocabulary (docs/architecture.md); the old names are deprecated aliases. */
const RENAMED = {
  batchSize: { from: 'initialBatchSize', to: 'batchSize', code: 'AYALA_SEARCH_INITIALBATCHSIZE' },
  retryDelay: { from: 'initialBackoff', to: 'retryDelay', code: 'AYALA_SEARCH_INITIALBACKOFF' },
  maxRetryDelay: { from: 'maxBackoff', to: 'maxRetryDelay', code: 'AYALA_SEARCH_MAXBACKOFF' },
} as const

/** Options of a bulk load, resolved (durations in ms). */
export interface ResolvedBulkOptions {
  action: 'index' | 'create'
  batchSize: number
  maxBatchSize: number
  maxBatchBytes: number
  concurrency: number
  retries: number
  retryDelayMs: number
  maxRetryDelayMs: number
  fastIngest: boolean
  refresh: boolean
  throwOnFailure: boolean
}

function positiveInt(name: string, value: number, min = 1): number {
  if (!Number.isInteger(value) || value < min) {
    throw new SearchError(
      'E_SEARCH_INVALID_OPTION',
      `${name} must be an integer >= ${min}, got ${String(value)}`,
    )
  }
  return value
}

/** Validate a load's options once. @throws SearchError `E_SEARCH_INVALID_OPTION` */
export function resolveBulkOptions<D, C>(options: BulkOptions<D, C>): Readonly<ResolvedBulkOptions> {
  checkOptionKeys(options, KNOWN_BULK_OPTIONS, 'bulk')
  if (typeof options.index !== 'string' || options.index.length === 0) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', 'index is required')
  }
  if (typeof options.idOf !== 'function') throw new SearchError('E_SEARCH_INVALID_OPTION', 'idOf is required')
  const d = DEFAULT_BULK_OPTIONS
  const action = options.action ?? d.action
  if (action !== 'index' && action !== 'create') {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `action must be 'index' or 'create'`)
  }
  // A renamed option is read under either name and validated under the name given.
  const batchSize = renamed<number>(options, RENAMED.batchSize, 'bulk')
  const retryDelay = renamed<Duration>(options, RENAMED.retryDelay, 'bulk')
  const maxRetryDelay = renamed<Duration>(options, RENAMED.maxRetryDelay, 'bulk')
  const resolved: ResolvedBulkOptions = {
    action,
    batchSize: positiveInt(batchSize.name, batchSize.value ?? d.batchSize),
    maxBatchSize: positiveInt('maxBatchSize', options.maxBatchSize ?? d.maxBatchSize),
    maxBatchBytes: positiveInt('maxBatchBytes', options.maxBatchBytes ?? d.maxBatchBytes),
    concurrency: positiveInt('concurrency', options.concurrency ?? d.concurrency),
    retries: positiveInt('retries', options.retries ?? d.retries, 0),
    retryDelayMs: toMs(retryDelay.value ?? d.retryDelay, retryDelay.name),
    maxRetryDelayMs: toMs(maxRetryDelay.value ?? d.maxRetryDelay, maxRetryDelay.name),
    fastIngest: options.fastIngest ?? d.fastIngest,
    refresh: options.refresh ?? d.refresh,
    throwOnFailure: options.throwOnFailure ?? d.throwOnFailure,
  }
  if (resolved.batchSize > resolved.maxBatchSize) {
    throw new SearchError('E_SEARCH_INVALID_OPTION', `${batchSize.name} must not exceed maxBatchSize`)
  }
  return Object.freeze(resolved)
}
