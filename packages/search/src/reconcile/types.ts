/**
 * The shapes of a reconcile: keys and half-open key ranges, the digests both sides summarize a
 * range into, the database side's interface ({@link ReconcileSource}, the truth) and the report.
 * Internal to the descent: the frontier's nodes and the differences found in leaves.
 */
import type { BulkFailure } from '../errors.js'

/** A key: an integer (numeric key fields) or a string (keyword key fields, byte order). */
export type ReconcileKey = number | string

/** A half-open key range `gte <= key < lt`; an absent bound is open. */
export interface KeyRange<K extends ReconcileKey = ReconcileKey> {
  /** Lowest key included; absent: no lower bound. */
  gte?: K | undefined
  /** First key excluded; absent: no upper bound. */
  lt?: K | undefined
}

/** Summary of the rows of one range. */
export interface RangeDigest {
  /** Rows in the range. */
  count: number
  /** Sum of their versions. */
  versionSum: number
  /** Sum of their keys (integer keys only; omit for string keys). */
  keySum?: number | undefined
}

/** A row's key and version. */
export interface KeyVersion<K extends ReconcileKey = ReconcileKey> {
  key: K
  version: number
}

/** A document to index, with its key and the version it was read at. */
export interface LoadedDocument<D, K extends ReconcileKey = ReconcileKey> extends KeyVersion<K> {
  document: D
}

/**
 * The database side of {@link reconcile}: the truth. {@link sqlReconcileSource} implements it
 * over a MariaDB/MySQL table with keyset queries.
 */
export interface ReconcileSource<D, K extends ReconcileKey = ReconcileKey> {
  /**
   * One digest per range. The ranges are consecutive (`ranges[i].lt === ranges[i + 1].gte`), so
   * one scan of their union with a `CASE` bucket answers them all.
   */
  digest(ranges: readonly KeyRange<K>[]): Promise<RangeDigest[]>
  /** Smallest and largest key, or `undefined` when the table is empty. */
  bounds(): Promise<{ min: K; max: K } | undefined>
  /** Up to `limit` rows of `range` with key greater than `after` (when given), in key order. */
  versions(range: KeyRange<K>, after: K | undefined, limit: number): Promise<KeyVersion<K>[]>
  /** The current documents of these keys; keys whose row does not exist are left out. */
  load(keys: readonly K[]): Promise<LoadedDocument<D, K>[]>
}

/** What one reconcile found and did. */
export interface ReconcileReport {
  /** Index compared. */
  index: string
  /** Whether the index existed when the run started. */
  indexExisted: boolean
  /** Rows in the database and documents in the index at the start. */
  counts: { database: number; index: number }
  /** Rows missing from the index. */
  missing: number
  /** Documents in the index whose row no longer exists. */
  extra: number
  /** Documents older than their row. */
  stale: number
  /** Documents newer than their row (reported, not repaired). */
  ahead: number
  /** `missing + extra + stale` found (before repair): the drift. */
  drift: number
  /**
   * Drift left after the repair, measured by a verifying dry run when something was repaired
   * (0: the index equals the database); equals `drift` in a dry run.
   */
  remaining: number
  /** What the repair did. */
  repaired: {
    /** Documents (re)indexed. */
    indexed: number
    /** Documents deleted. */
    deleted: number
    /** Repairs skipped because a newer write landed meanwhile, or the row changed again. */
    skipped: number
    /** Repairs the engine rejected. */
    failed: number
  }
  /** Rejected repairs with the engine's reason (at most 100). */
  failures: BulkFailure[]
  /** Ranges whose digests were compared. */
  ranges: number
  /** Ranges compared key by key. */
  leaves: number
  /** Calls made to the source and requests sent to the engine. */
  requests: { database: number; engine: number }
  /** How versions were digested: a document field, `_version`, or not at all (key-by-key scan). */
  versionDigest: 'field' | '_version' | 'none'
  /** Whether repairs were skipped on purpose. */
  dryRun: boolean
  /** Duration in ms. */
  durationMs: number
}

/** A range under comparison with both sides' digests (internal). */
export interface RangeNode {
  range: KeyRange
  db: RangeDigest
  es: RangeDigest
}

/** The differences found in leaves (internal). */
export interface Diff {
  missing: ReconcileKey[]
  stale: ReconcileKey[]
  extra: Array<{ key: ReconcileKey; id: string; version: number }>
  ahead: Array<{ key: ReconcileKey; version: number }>
}
