/**
 * UTC time buckets by event time. A bucket label sorts lexicographically in time order:
 * `2026-11` (month), `2026-11-27` (day), `2026-11-27T10` (hour).
 */

/** Width of a time bucket. */
export type BucketUnit = 'hour' | 'day' | 'month'

/** A time-bucket dimension: the row's event time, cut into UTC hours, days or months. */
export interface TimeBucket<R> {
  /** Discriminant. */
  readonly kind: 'bucket'
  /** Bucket width. */
  readonly unit: BucketUnit
  /** Event time of a row, as epoch milliseconds or a Date. */
  readonly time: (row: R) => number | Date
}

function bucketOf<R>(unit: BucketUnit, time: (row: R) => number | Date): TimeBucket<R> {
  return Object.freeze({ kind: 'bucket', unit, time })
}

/** UTC hour buckets (`2026-11-27T10`) of the row's event time. */
export function hour<R>(time: (row: R) => number | Date): TimeBucket<R> {
  return bucketOf('hour', time)
}
/** UTC day buckets (`2026-11-27`) of the row's event time. */
export function day<R>(time: (row: R) => number | Date): TimeBucket<R> {
  return bucketOf('day', time)
}
/** UTC month buckets (`2026-11`) of the row's event time. */
export function month<R>(time: (row: R) => number | Date): TimeBucket<R> {
  return bucketOf('month', time)
}

/** The start of the bucket containing `ms`. @internal */
export function bucketStart(unit: BucketUnit, ms: number): number {
  const d = new Date(ms)
  if (unit === 'hour') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours())
  if (unit === 'day') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}

/** The start of the bucket after the one starting at `start`. @internal */
export function nextBucket(unit: BucketUnit, start: number): number {
  if (unit === 'hour') return start + 3_600_000
  if (unit === 'day') return start + 86_400_000
  const d = new Date(start)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
}

/** The label of the bucket containing `ms`. @internal */
export function bucketLabel(unit: BucketUnit, ms: number): string {
  const iso = new Date(ms).toISOString()
  return unit === 'hour' ? iso.slice(0, 13) : unit === 'day' ? iso.slice(0, 10) : iso.slice(0, 7)
}
