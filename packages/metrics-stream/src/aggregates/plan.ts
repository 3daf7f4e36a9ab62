/**
 * Pre-aggregation of a chunk in Node: every event's rows become increments, summed per Redis key
 * and field, so a 500-event chunk that touches 12 figures sends 12 increments, not 2,000. The
 * result is encoded as flat script arguments: `kind keyIndex expireAt n field delta ...`.
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

interface PendingOp {
  key: string
  kind: Kind
  expireAt: number
  field: string
  delta: number
}

const KIND: Record<Aggregate<unknown, unknown>['kind'], Kind> = {
  count: 'h',
  sum: 'h',
  top: 'z',
  distinct: 'p',
}

function toMillis(value: number | Date): number {
  return typeof value === 'number' ? value : value.getTime()
}

/** The increments of one chunk, summed per key and field. @internal */
export class DeltaPlan {
  private readonly deltas = new Map<string, KeyDelta>()
  private readonly pending: PendingOp[] = []
  private readonly entries: Array<[string, Aggregate<unknown, unknown>]>

  constructor(
    aggregates: Aggregates<any>,
    private readonly keys: ViewKeys,
  ) {
    this.entries = Object.entries(aggregates)
  }

  /**
   * Add one event's rows. All or nothing: a row whose amount is not a safe integer rejects the
   * whole event with `E_STREAM_INVALID_EVENT` before anything of it is merged.
   */
  addEvent(add: unknown, retract: unknown): void {
    this.pending.length = 0
    if (retract !== null && retract !== undefined) this.collect(retract, -1)
    if (add !== null && add !== undefined) this.collect(add, 1)
    for (const op of this.pending) {
      let entry = this.deltas.get(op.key)
      if (!entry) {
        entry = { kind: op.kind, expireAt: op.expireAt, fields: new Map() }
        this.deltas.set(op.key, entry)
      }
      entry.fields.set(op.field, (entry.fields.get(op.field) ?? 0) + op.delta)
    }
  }

  private collect(row: unknown, sign: 1 | -1): void {
    for (const [name, aggregate] of this.entries) {
      if (aggregate.kind === 'distinct' && sign < 0) continue
      const group = aggregate.group(row)
      if (group === undefined) continue
      let key: string
      let expireAt = 0
      if (aggregate.bucket) {
        const at = toMillis(aggregate.bucket.time(row))
        if (!Number.isFinite(at)) throw invalid(`${name}: event time is not a valid date`)
        key = this.keys.aggregate(name, bucketLabel(aggregate.bucket.unit, at))
        if (Number.isFinite(aggregate.retentionMs)) {
          expireAt =
            nextBucket(aggregate.bucket.unit, bucketStart(aggregate.bucket.unit, at)) + aggregate.retentionMs
        }
      } else {
        key = this.keys.aggregate(name)
      }
      const amount = aggregate.amount(row)
      if (!Number.isSafeInteger(amount)) {
        throw invalid(`${name}: amount ${String(amount)} is not an integer (use minor units)`)
      }
      const field = aggregate.member ? aggregate.member(row) : group === '' ? '_' : group
      if (typeof field !== 'string' || field.length === 0) throw invalid(`${name}: empty member or group`)
      this.pending.push({ key, kind: KIND[aggregate.kind], expireAt, field, delta: sign * amount })
    }
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

function invalid(message: string): MetricsStreamError {
  return new MetricsStreamError('E_STREAM_INVALID_EVENT', message)
}
