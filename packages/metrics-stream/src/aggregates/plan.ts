/**
 * Pre-aggregation of a chunk in Node: every event's rows become increments, summed per Redis key
 * and field, so a 500-event chunk that touches 12 figures sends 12 increments, not 2,000. The
 * result is encoded as flat script arguments: `kind keyIndex expireAt n field delta ...`.
 *
 * Entity mode stores, per entity, the contribution its row makes (not the row): per retractable
 * aggregate the field, the amount and the bucket start, as a JSON array of
 * `[aggregateIndex, field, amount]` or `[aggregateIndex, field, amount, bucketStart]`. Retracting
 * it later needs none of the view's functions, so it removes exactly what was added, and it is
 * smaller than most rows (~40 bytes for three figures). HyperLogLog distinct counts are not
 * stored (a HyperLogLog cannot forget); exact ones are hash increments like counts, stored and
 * retracted. The indexes follow the order of the view's aggregates, which is why
 * an entity view's aggregates may only be appended to within a generation (the consumer checks).
 */
import { MetricsStreamError } from '../errors.js'
import type { ViewKeys } from '../keys.js'
import { bucketLabel, bucketStart, nextBucket } from './buckets.js'
import type { Aggregate, Aggregates } from './define.js'

type Kind = 'h' | 'z' | 'p'

interface KeyDelta {
  kind: Kind
  expireAt: number
  fields: Map<string, number>
}

/** One time bucket of an aggregate: its bounds, key and expiry. */
interface Bucket {
  from: number
  to: number
  key: string
  expireAt: number
}

/**
 * Per aggregate: its name, its key without bucket, the last bucket seen, and every bucket seen in
 * this chunk (events of a chunk often alternate between a few buckets; the label is a Date
 * formatting, worth computing once per bucket, not per event).
 */
interface Slot {
  name: string
  aggregate: Aggregate<unknown, unknown>
  kind: Kind
  key: string
  bucketFrom: number
  bucketTo: number
  bucketKey: string
  bucketExpireAt: number
  buckets: Map<number, Bucket>
}

const KIND: Record<Aggregate<unknown, unknown>['kind'], Kind> = {
  count: 'h',
  sum: 'h',
  top: 'z',
  distinct: 'p',
  latest: 'h', // never planned: changelog figures are filtered out below
}

function toMillis(value: number | Date): number {
  return typeof value === 'number' ? value : value.getTime()
}

/**
 * One increment a row contributes (entity mode): the aggregate's index, its key, field, amount,
 * expiry and bucket start (`-1` unbucketed). @internal
 */
export interface RowOp {
  readonly slot: number
  readonly kind: Kind
  readonly key: string
  readonly field: string
  readonly amount: number
  readonly expireAt: number
  readonly from: number
}

/** The signature of a view's aggregates, in order (`name:kind[:bucketUnit]`). @internal */
export function aggregateSignature(aggregates: Aggregates<any>): string[] {
  return Object.entries(aggregates).map(
    ([name, a]) => `${name}:${a.kind}${a.exact ? ':exact' : ''}${a.bucket ? `:${a.bucket.unit}` : ''}`,
  )
}

/** The increments of one chunk, summed per key and field. @internal */
export class DeltaPlan {
  private readonly deltas = new Map<string, KeyDelta>()
  // One event's pending increments, flat (key, field, delta, kind, expireAt per op), so that an
  // event is merged all or nothing without allocating an object per increment.
  private readonly pendingKeys: string[] = []
  private readonly pendingFields: string[] = []
  private readonly pendingDeltas: number[] = []
  private readonly pendingSlots: Slot[] = []
  private readonly pendingExpiry: number[] = []
  private readonly slots: Slot[]

  constructor(aggregates: Aggregates<any>, keys: ViewKeys) {
    // Changelog figures (`latest`) are stored as the changelog states them: no increments.
    const counted = Object.entries(aggregates).filter(([, aggregate]) => aggregate.kind !== 'latest')
    this.slots = counted.map(([name, aggregate]) => ({
      name,
      aggregate,
      // An exact distinct is a hash of values (`HINCRBY`, removed at 0), like a grouped count.
      kind: aggregate.exact ? 'h' : KIND[aggregate.kind],
      key: keys.aggregate(name),
      bucketFrom: 0,
      bucketTo: -1,
      bucketKey: '',
      bucketExpireAt: 0,
      buckets: new Map(),
    }))
    this.keys = keys
  }

  private readonly keys: ViewKeys

  /**
   * Add one event's rows. All or nothing: a row whose amount is not a safe integer rejects the
   * whole event with `E_STREAM_INVALID_EVENT` before anything of it is merged.
   */
  addEvent(add: unknown, retract: unknown): void {
    this.pendingKeys.length = 0
    this.pendingFields.length = 0
    this.pendingDeltas.length = 0
    this.pendingSlots.length = 0
    this.pendingExpiry.length = 0
    if (retract !== null && retract !== undefined) this.collect(retract, -1)
    if (add !== null && add !== undefined) this.collect(add, 1)
    const n = this.pendingKeys.length
    for (let i = 0; i < n; i++) {
      const key = this.pendingKeys[i] as string
      let entry = this.deltas.get(key)
      if (!entry) {
        entry = {
          kind: (this.pendingSlots[i] as Slot).kind,
          expireAt: this.pendingExpiry[i] as number,
          fields: new Map(),
        }
        this.deltas.set(key, entry)
      }
      const field = this.pendingFields[i] as string
      entry.fields.set(field, (entry.fields.get(field) ?? 0) + (this.pendingDeltas[i] as number))
    }
  }

  /** The bucket starting at `from` of a bucketed slot (label formatted once per chunk). */
  private bucketOf(slot: Slot, from: number): Bucket {
    let seen = slot.buckets.get(from)
    if (!seen) {
      const aggregate = slot.aggregate
      const unit = (aggregate.bucket as NonNullable<typeof aggregate.bucket>).unit
      const to = nextBucket(unit, from)
      seen = {
        from,
        to,
        key: this.keys.aggregate(slot.name, bucketLabel(unit, from)),
        expireAt: Number.isFinite(aggregate.retentionMs) ? to + aggregate.retentionMs : 0,
      }
      slot.buckets.set(from, seen)
    }
    return seen
  }

  private collect(row: unknown, sign: 1 | -1): void {
    for (const slot of this.slots) {
      const aggregate = slot.aggregate
      if (slot.kind === 'p' && sign < 0) continue
      const group = aggregate.group(row)
      if (group === undefined) continue
      let key = slot.key
      let expireAt = 0
      const bucket = aggregate.bucket
      if (bucket) {
        const at = toMillis(bucket.time(row))
        if (!Number.isFinite(at)) throw invalid(`${slot.name}: event time is not a valid date`)
        if (at < slot.bucketFrom || at >= slot.bucketTo) {
          const seen = this.bucketOf(slot, bucketStart(bucket.unit, at))
          slot.bucketFrom = seen.from
          slot.bucketTo = seen.to
          slot.bucketKey = seen.key
          slot.bucketExpireAt = seen.expireAt
        }
        key = slot.bucketKey
        expireAt = slot.bucketExpireAt
      }
      const amount = aggregate.amount(row)
      if (!Number.isSafeInteger(amount)) {
        throw invalid(`${slot.name}: amount ${String(amount)} is not an integer (use minor units)`)
      }
      const field = aggregate.member ? aggregate.member(row) : group === '' ? '_' : group
      if (typeof field !== 'string' || field.length === 0)
        throw invalid(`${slot.name}: empty member or group`)
      this.pendingKeys.push(key)
      this.pendingFields.push(field)
      this.pendingDeltas.push(sign * amount)
      this.pendingSlots.push(slot)
      this.pendingExpiry.push(expireAt)
    }
  }

  /**
   * Entity mode: the increments one row contributes, validated (a non-integer amount or an
   * invalid date throws `E_STREAM_INVALID_EVENT`), not merged.
   */
  rowOps(row: unknown): RowOp[] {
    this.pendingKeys.length = 0
    this.pendingFields.length = 0
    this.pendingDeltas.length = 0
    this.pendingSlots.length = 0
    this.pendingExpiry.length = 0
    this.collect(row, 1)
    const ops: RowOp[] = []
    for (let i = 0; i < this.pendingKeys.length; i++) {
      const slot = this.pendingSlots[i] as Slot
      ops.push({
        slot: this.slots.indexOf(slot),
        kind: slot.kind,
        key: this.pendingKeys[i] as string,
        field: this.pendingFields[i] as string,
        amount: this.pendingDeltas[i] as number,
        expireAt: this.pendingExpiry[i] as number,
        from: slot.aggregate.bucket ? slot.bucketFrom : -1,
      })
    }
    return ops
  }

  /** Merge a row's increments with `sign`; with -1 only the retractable ones (not `distinct`). */
  mergeOps(ops: readonly RowOp[], sign: 1 | -1): void {
    for (const op of ops) {
      if (op.kind === 'p' && sign < 0) continue
      this.merge(op.key, op.kind, op.expireAt, op.field, sign * op.amount)
    }
  }

  /** Merge only the `distinct` increments of a row (an applied version's members). */
  mergeDistinct(ops: readonly RowOp[]): void {
    for (const op of ops) if (op.kind === 'p') this.merge(op.key, op.kind, op.expireAt, op.field, 1)
  }

  /**
   * Retract a stored contribution (see the module note for the encoding).
   * @throws MetricsStreamError `E_STREAM_STATE_CORRUPT` when it cannot be decoded
   */
  retractStored(encoded: string): void {
    if (encoded === '') return
    let entries: unknown
    try {
      entries = JSON.parse(encoded)
    } catch (error) {
      throw corrupt(`an entity's stored contribution is not JSON: ${encoded.slice(0, 100)}`, error)
    }
    if (!Array.isArray(entries)) throw corrupt(`an entity's stored contribution is not an array`)
    for (const entry of entries as unknown[]) {
      const [index, field, amount, from] = entry as [number, string, number, number | undefined]
      const slot = this.slots[index]
      if (
        slot === undefined ||
        slot.kind === 'p' ||
        typeof field !== 'string' ||
        !Number.isSafeInteger(amount) ||
        (from === undefined) !== (slot.aggregate.bucket === undefined)
      ) {
        throw corrupt(`an entity's stored contribution does not match the view: ${JSON.stringify(entry)}`)
      }
      if (from === undefined) this.merge(slot.key, slot.kind, 0, field, -amount)
      else {
        const bucket = this.bucketOf(slot, from)
        this.merge(bucket.key, slot.kind, bucket.expireAt, field, -amount)
      }
    }
  }

  private merge(key: string, kind: Kind, expireAt: number, field: string, delta: number): void {
    let entry = this.deltas.get(key)
    if (!entry) {
      entry = { kind, expireAt, fields: new Map() }
      this.deltas.set(key, entry)
    }
    entry.fields.set(field, (entry.fields.get(field) ?? 0) + delta)
  }

  /** Whether nothing was added. */
  get empty(): boolean {
    return this.deltas.size === 0
  }

  /** Script KEYS (after `fixedKeys`) and ARGV ops; zero deltas are left out. */
  encode(keys: string[], argv: string[]): void {
    for (const [key, delta] of this.deltas) {
      const ops: string[] = []
      for (const [field, value] of delta.fields) {
        if (delta.kind === 'p') ops.push(field)
        else if (value !== 0) ops.push(field, String(value))
      }
      if (ops.length === 0) continue
      keys.push(key)
      const n = delta.kind === 'p' ? ops.length : ops.length / 2
      argv.push(delta.kind, String(keys.length), String(delta.expireAt), String(n), ...ops)
    }
  }
}

/** The stored form of a row's contribution (entity mode), without `distinct` members. @internal */
export function encodeContribution(ops: readonly RowOp[]): string {
  const entries: Array<[number, string, number] | [number, string, number, number]> = []
  for (const op of ops) {
    if (op.kind === 'p') continue
    entries.push(op.from < 0 ? [op.slot, op.field, op.amount] : [op.slot, op.field, op.amount, op.from])
  }
  return JSON.stringify(entries)
}

function invalid(message: string): MetricsStreamError {
  return new MetricsStreamError('E_STREAM_INVALID_EVENT', message)
}

function corrupt(message: string, cause?: unknown): MetricsStreamError {
  return new MetricsStreamError('E_STREAM_STATE_CORRUPT', message, { cause })
}
