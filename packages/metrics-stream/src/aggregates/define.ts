/**
 * Declarative aggregates. A view turns each event into at most two rows: the row it adds and the
 * row it retracts (a correction: an invoice whose status or amount changed carries its previous
 * state, so the old contribution is subtracted and the new one added). Each aggregate maps rows to
 * Redis increments:
 *
 * | aggregate | Redis | retraction |
 * |---|---|---|
 * | `count` | `HINCRBY` field per group, +1 / -1 | yes |
 * | `sum` | `HINCRBY` field per group, +/- integer value (money in minor units) | yes |
 * | `top` | `ZINCRBY` member score | yes (members at or below 0 are removed) |
 * | `distinct` | `PFADD` (HyperLogLog, ~0.81 % standard error) | no: a HyperLogLog cannot forget |
 * | `distinct` with `exact: true` | `HINCRBY` field per value (rows holding it), removed at 0; read with `HLEN` | yes |
 *
 * Two modes. **Delta** (`rows`, the default): events carry their previous state, so the service
 * that emits "invoice paid" sends the row it retracts; the consumer stays a pure function of the
 * log, chunks pre-aggregate in Node with no per-entity read (that is what keeps 500-event scripts
 * short), and Redis memory does not grow with the number of entities ever seen. Its exactly-once
 * rests on Kafka offsets, so the same event produced twice (an outbox relay that crashed after
 * producing, before marking its rows done) counts twice.
 *
 * **Entity** (`entity`, an upsert): each event states an entity's row after the change (null:
 * deleted) and its version. The consumer keeps per entity the version and the contribution it
 * currently makes (see `consume/entity-chunk.ts`), applies an event only when its version is above
 * the stored one, and moves the entity's contribution from the stored row to the new one. A
 * duplicate, whatever its offset, and an older version arriving after a newer one change nothing.
 * The price: one hash field per entity in Redis, and one HMGET round trip per chunk.
 */

import { type Duration, toMs } from '../duration.js'
import { MetricsStreamError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'
import type { TimeBucket } from './buckets.js'

/** A grouping dimension: a function giving the row's value for it (a string without `|`). */
export type Dimension<R> = (row: R) => string

/** Options shared by the aggregates. */
export interface AggregateCommon<R> {
  /** Only rows for which this returns true contribute. @default every row */
  where?: ((row: R) => boolean) | undefined
  /** Bucket the aggregate by the row's event time (one Redis key per bucket). */
  bucket?: TimeBucket<R> | undefined
  /**
   * How long a bucket's key lives after the bucket ends (`PEXPIREAT`); only with `bucket`.
   * A number is milliseconds. @default Infinity (kept forever)
   */
  retention?: Duration | undefined
  /** How many buckets a read returns when no range is given (the latest ones, ending now). @default 30 */
  readBuckets?: number | undefined
}

/** Options of {@link count} and {@link sum}. */
export interface GroupedOptions<R> extends AggregateCommon<R> {
  /** Dimensions the figure is grouped by; the group key joins their values with `|`. */
  by?: Record<string, Dimension<R>> | undefined
}

/** Options of {@link sum}. */
export interface SumOptions<R> extends GroupedOptions<R> {
  /** The integer to add (money in minor units: cents). A non-integer dead-letters the event. */
  value: (row: R) => number
}

/** Options of {@link top}. */
export interface TopOptions<R> extends AggregateCommon<R> {
  /** The member ranked (a client id, a product). */
  member: (row: R) => string
  /** The integer added to the member's score. @default 1 */
  score?: ((row: R) => number) | undefined
  /** How many members a read returns, best first. @default 10 */
  size?: number | undefined
}

/** Options of {@link distinct}. */
export interface DistinctOptions<R> extends AggregateCommon<R> {
  /** The value counted once (a client id). */
  value: (row: R) => string
  /**
   * Count exactly, with retractions: a Redis hash of value -> number of rows holding it
   * (`HINCRBY`, the field removed when it returns to 0), read with `HLEN`. A deleted or changed
   * row takes its value out (the last invoice of a client this month gone: one client fewer),
   * which a HyperLogLog cannot do. Memory grows with the distinct values (one hash field each,
   * per bucket). @default false (a HyperLogLog: fixed 12 KB, approximate, additions only)
   */
  exact?: boolean | undefined
}

/** One ranked member of a {@link top} figure. */
export interface Ranked {
  readonly member: string
  readonly score: number
}

/** The figure a grouped aggregate reads as, from its options. */
export type GroupedFigure<O> = O extends { bucket: TimeBucket<any> }
  ? Record<string, O extends { by: Record<string, any> } ? Record<string, number> : number>
  : O extends { by: Record<string, any> }
    ? Record<string, number>
    : number

/** The figure a {@link top} or {@link distinct} aggregate reads as, from its options. */
export type BucketedFigure<O, F> = O extends { bucket: TimeBucket<any> } ? Record<string, F> : F

/** What a changelog figure (`changelog.ts`) reads from its records. @internal */
export interface ChangelogSource {
  /** The changelog topic. */
  readonly topic: string
  /** The group of a record's key. */
  readonly group: (key: Buffer) => string
  /** The value column the figure stores. */
  readonly column: string
}

/** A compiled aggregate over rows `R` whose read result is `F`. */
export interface Aggregate<R, F> {
  /** Which builder made it (`latest`: a figure read from a changelog topic, see `changelog`). */
  readonly kind: 'count' | 'sum' | 'top' | 'distinct' | 'latest'
  /** @internal Group key of a row ('' without dimensions), or undefined when filtered out. */
  readonly group: (row: R) => string | undefined
  /** @internal Integer amount of a row (count: 1, top: its score). */
  readonly amount: (row: R) => number
  /** @internal Member of a `top` or value of a `distinct`. */
  readonly member: ((row: R) => string) | undefined
  /** The time bucket, when bucketed. */
  readonly bucket: TimeBucket<R> | undefined
  /** Names of the grouping dimensions (empty: one figure per bucket or in all). */
  readonly dimensions: readonly string[]
  /** Milliseconds a bucket's key lives after the bucket ends. */
  readonly retentionMs: number
  /** Buckets a read returns when no range is given. */
  readonly readBuckets: number
  /** Members a `top` read returns (0 for the others). */
  readonly size: number
  /** A `distinct` counted exactly (a hash of values, retractable) rather than by a HyperLogLog. */
  readonly exact: boolean
  /** @internal Where a `latest` figure comes from (its changelog topic, key and column). */
  readonly changelog?: ChangelogSource | undefined
  /** Phantom: the figure type. */
  readonly __figure?: F
}

const COMMON_KEYS = ['where', 'bucket', 'retention', 'readBuckets']
/** The option keys of each builder (unknown ones are refused by name). */
const BUILDER_KEYS: Readonly<
  Record<Exclude<Aggregate<unknown, unknown>['kind'], 'latest'>, ReadonlySet<string>>
> = {
  count: new Set([...COMMON_KEYS, 'by']),
  sum: new Set([...COMMON_KEYS, 'by', 'value']),
  top: new Set([...COMMON_KEYS, 'member', 'score', 'size']),
  distinct: new Set([...COMMON_KEYS, 'value', 'exact']),
}

function common<R>(
  name: Exclude<Aggregate<unknown, unknown>['kind'], 'latest'>,
  options: AggregateCommon<R>,
) {
  checkOptionKeys(options, BUILDER_KEYS[name], name)
  const retentionMs = toMs(options.retention ?? Number.POSITIVE_INFINITY, `${name}.retention`, true)
  if (options.retention !== undefined && options.bucket === undefined) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', `${name}: retention needs a bucket`)
  }
  const readBuckets = options.readBuckets ?? 30
  if (!Number.isInteger(readBuckets) || readBuckets < 1 || readBuckets > 1_000) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', `${name}: readBuckets must be 1..1000`)
  }
  return { bucket: options.bucket, retentionMs, readBuckets, where: options.where }
}

function grouper<R>(by: Record<string, Dimension<R>> | undefined, where: ((row: R) => boolean) | undefined) {
  const dims = by ? Object.values(by) : []
  return (row: R): string | undefined => {
    if (where && !where(row)) return undefined
    if (dims.length === 0) return ''
    if (dims.length === 1) return (dims[0] as Dimension<R>)(row)
    return dims.map((dim) => dim(row)).join('|')
  }
}

const one = () => 1

/** Count rows, grouped by dimensions: `HINCRBY` +1 per added row, -1 per retracted row. */
export function count<R, const O extends GroupedOptions<R> = {}>(
  options?: O,
): Aggregate<R, GroupedFigure<O>> {
  const base = common('count', options ?? {})
  return Object.freeze({
    kind: 'count',
    group: grouper(options?.by, base.where),
    dimensions: Object.freeze(Object.keys(options?.by ?? {})),
    amount: one,
    member: undefined,
    bucket: base.bucket,
    retentionMs: base.retentionMs,
    readBuckets: base.readBuckets,
    size: 0,
    exact: false,
  })
}

/** Sum an integer (money in minor units), grouped by dimensions: `HINCRBY` +/- value. */
export function sum<R, const O extends SumOptions<R> = SumOptions<R>>(
  options: O,
): Aggregate<R, GroupedFigure<O>> {
  const base = common('sum', options)
  return Object.freeze({
    kind: 'sum',
    group: grouper(options.by, base.where),
    dimensions: Object.freeze(Object.keys(options.by ?? {})),
    amount: options.value,
    member: undefined,
    bucket: base.bucket,
    retentionMs: base.retentionMs,
    readBuckets: base.readBuckets,
    size: 0,
    exact: false,
  })
}

/** Rank members by an integer score (a sorted set, `ZINCRBY`); reads return the best `size`. */
export function top<R, const O extends TopOptions<R> = TopOptions<R>>(
  options: O,
): Aggregate<R, BucketedFigure<O, Ranked[]>> {
  const base = common('top', options)
  const size = options.size ?? 10
  if (!Number.isInteger(size) || size < 1) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', 'top: size must be a positive integer')
  }
  return Object.freeze({
    kind: 'top',
    group: grouper(undefined, base.where),
    dimensions: [],
    amount: options.score ?? one,
    member: options.member,
    bucket: base.bucket,
    retentionMs: base.retentionMs,
    readBuckets: base.readBuckets,
    size,
    exact: false,
  })
}

/**
 * Count distinct values: with a HyperLogLog (`PFADD`; additions only, never retracted), or with
 * `exact: true` exactly and retractably (a hash of values and how many rows hold each, `HLEN`).
 */
export function distinct<R, const O extends DistinctOptions<R> = DistinctOptions<R>>(
  options: O,
): Aggregate<R, BucketedFigure<O, number>> {
  const base = common('distinct', options)
  if (options.exact !== undefined && typeof options.exact !== 'boolean') {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', 'distinct: exact must be a boolean')
  }
  return Object.freeze({
    kind: 'distinct',
    group: grouper(undefined, base.where),
    dimensions: [],
    amount: one,
    member: options.value,
    bucket: base.bucket,
    retentionMs: base.retentionMs,
    readBuckets: base.readBuckets,
    size: 0,
    exact: options.exact === true,
  })
}

/** The aggregate builders, handed to {@link defineAggregates} with the row type bound. */
export interface AggregateBuilders<R> {
  count<const O extends GroupedOptions<R>>(options?: O): Aggregate<R, GroupedFigure<O>>
  sum<const O extends SumOptions<R>>(options: O): Aggregate<R, GroupedFigure<O>>
  top<const O extends TopOptions<R>>(options: O): Aggregate<R, BucketedFigure<O, Ranked[]>>
  distinct<const O extends DistinctOptions<R>>(options: O): Aggregate<R, BucketedFigure<O, number>>
}

/** A named set of aggregates over rows `R`. */
export type Aggregates<R> = Record<string, Aggregate<R, unknown>>

const NAME = /^[A-Za-z0-9_-]+$/

/**
 * Define a view's aggregates with the row type bound once (curried, so the aggregate names and
 * figure types are inferred while the row type is given):
 *
 * ```ts
 * const aggregates = defineAggregates<InvoiceRow>()((a) => ({
 *   byStatus: a.count({ by: { status: (r) => r.status } }),
 *   amountByDay: a.sum({ value: (r) => r.amountCents, bucket: day((r) => r.issuedAt) }),
 * }))
 * ```
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` for a name outside `[A-Za-z0-9_-]`
 */
export function defineAggregates<R>(): <const A extends Aggregates<R>>(
  build: (builders: AggregateBuilders<R>) => A,
) => A {
  const builders = Object.freeze({ count, sum, top, distinct }) as AggregateBuilders<R>
  return (build) => {
    const aggregates = build(builders)
    for (const name of Object.keys(aggregates)) {
      if (!NAME.test(name)) {
        throw new MetricsStreamError(
          'E_STREAM_INVALID_OPTION',
          `Invalid aggregate name ${JSON.stringify(name)}`,
        )
      }
    }
    return Object.freeze(aggregates)
  }
}

/** What one event contributes: the row it adds and the row it retracts (its previous state). */
export interface Contribution<R> {
  /** The row the event adds (the entity's new state), if any. */
  add?: R | null | undefined
  /** The row the event retracts (the entity's previous state), if any. */
  retract?: R | null | undefined
}

/**
 * What an entity-mode view reads from an event: which entity changed, its version after the
 * change, and its whole row after the change.
 */
export interface EntityChange<R> {
  /**
   * The entity's identity (an invoice id): a non-empty string of at most 1024 characters, or a
   * safe integer. Anything else dead-letters the event (`E_STREAM_INVALID_ENTITY`).
   */
  key: string | number
  /**
   * The entity's version after this change: a non-negative safe integer or bigint that rises with
   * every change of the entity (a row version column, an outbox sequence). An event whose version
   * is not above the stored one is a duplicate (equal) or stale (below) and changes nothing.
   */
  version: number | bigint
  /**
   * The entity's row after the change, or `null` when it was deleted (a tombstone: its version is
   * kept so that an older event replayed later cannot bring the row back). `undefined`
   * dead-letters the event, so that a missing field never reads as a deletion.
   */
  row: R | null
}

/** The definition of a view, given to {@link defineView}. */
export interface ViewDefinition<E, R, A extends Aggregates<R>> {
  /** The view's name, part of its Redis keys (`[A-Za-z0-9_-]`). */
  name: string
  /**
   * Validates and types a decoded JSON message (your schema validator: zod's `parse`, a type
   * guard that throws...). Throw to dead-letter the message. @default the value as is
   */
  decode?: ((value: unknown) => E) | undefined
  /** Event time in epoch milliseconds or a Date: drives watermarks and lateness. */
  eventTime: (event: E) => number | Date
  /**
   * Delta mode: the rows an event adds and retracts. Give `rows` or `entity`, not both.
   * @default the event itself is the row it adds
   */
  rows?: ((event: E) => Contribution<R>) | undefined
  /**
   * Entity (upsert) mode: the entity an event changes, its version and its row after the change.
   * Exactly once per entity version, whatever the offsets: see {@link EntityChange}.
   */
  entity?: ((event: E) => EntityChange<R>) | undefined
  /** The aggregates, from {@link defineAggregates}. */
  aggregates: A
}

/** A compiled view: its definition, validated and frozen. */
export interface View<E, R = E, A extends Aggregates<R> = Aggregates<R>> {
  /** The view's name, part of its Redis keys. */
  readonly name: string
  /** The validator (identity when none was given). */
  readonly decode: (value: unknown) => E
  /** Event time of an event. */
  readonly eventTime: (event: E) => number | Date
  /** The rows an event adds and retracts (delta mode). */
  readonly rows: (event: E) => Contribution<R>
  /** `delta` (events carry the rows they add and retract) or `entity` (upserts by version). */
  readonly mode: 'delta' | 'entity'
  /** The entity an event changes (entity mode), else undefined. */
  readonly entity: ((event: E) => EntityChange<R>) | undefined
  /** The aggregates, by name. */
  readonly aggregates: A
  /**
   * The changelog topics some of the aggregates read (`changelog`), each with its figures' names:
   * a record of such a topic is applied as a changelog row, not as an event.
   */
  readonly changelogs: ReadonlyMap<string, readonly string[]>
}

/** The figures a view reads as: one entry per aggregate. */
export type Figures<A> = { [K in keyof A]: A[K] extends Aggregate<any, infer F> ? F : never }

const identity = <T>(value: unknown) => value as T

const VIEW_KEYS: ReadonlySet<string> = new Set([
  'name',
  'decode',
  'eventTime',
  'rows',
  'entity',
  'aggregates',
])

/**
 * Define a view: how events decode, when they happened, what rows they add and retract (or, in
 * entity mode, which entity version they carry), and the aggregates over those rows.
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` for an unknown key, an invalid name, no
 * aggregates, or both `rows` and `entity`
 */
export function defineView<E, R = E, const A extends Aggregates<R> = Aggregates<R>>(
  definition: ViewDefinition<E, R, A>,
): View<E, R, A> {
  checkOptionKeys(definition, VIEW_KEYS, 'defineView')
  if (!NAME.test(definition.name)) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `Invalid view name ${JSON.stringify(definition.name)}`,
    )
  }
  if (Object.keys(definition.aggregates).length === 0) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', `View ${definition.name} has no aggregates`)
  }
  if (definition.rows !== undefined && definition.entity !== undefined) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `View ${definition.name}: give rows (delta mode) or entity (entity mode), not both`,
    )
  }
  const entity = definition.entity
  const changelogs = new Map<string, string[]>()
  for (const [name, aggregate] of Object.entries(definition.aggregates)) {
    const topic = aggregate.changelog?.topic
    if (topic === undefined) continue
    const names = changelogs.get(topic) ?? []
    names.push(name)
    changelogs.set(topic, names)
  }
  return Object.freeze({
    name: definition.name,
    decode: definition.decode ?? identity<E>,
    eventTime: definition.eventTime,
    rows:
      definition.rows ??
      (entity ? (event: E) => ({ add: entity(event).row }) : (event: E) => ({ add: event as unknown as R })),
    mode: entity ? 'entity' : 'delta',
    entity,
    aggregates: definition.aggregates,
    changelogs,
  })
}
