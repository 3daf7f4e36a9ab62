/**
 * The one-round-trip read. A read is one MULTI/EXEC to the view's slot: the pointer (which
 * generation readers use), the view's meta hash (version, status, epoch, reason: see
 * `health/view-state.ts`) and every figure; if the pointer names another generation than
 * assumed, the read is repeated once with it (and the copy emptied). Only while the view is
 * `rebuilding` is a second round trip made, for the progress. Each aggregate queues its commands
 * (one per bucket for a bucketed one, at most 1000 buckets) and returns the decoder of its
 * replies; the result is frozen, figures included.
 */
import type { Redis } from 'ioredis'
import { bucketLabel, bucketStart, nextBucket } from '../aggregates/buckets.js'
import type { Aggregate, Aggregates, Figures, Ranked } from '../aggregates/define.js'
import { MetricsStreamError } from '../errors.js'
import { META_FIELDS, parseMeta, type RebuildProgress, readProgress } from '../health/view-state.js'
import { type ViewKeys, viewKeys } from '../keys.js'
import { clearCache } from './copy.js'
import type { DashboardSnapshot, ReadParams } from './snapshot.js'
import type { DashboardState } from './state.js'

type Decoder = (replies: unknown[], index: number) => [unknown, number]

const MAX_BUCKETS = 1_000

/** The key of a read range (and figure selection) in the copy and among the kept snapshots. @internal */
export function rangeKey(params: ReadParams): string {
  const range = `${params.from === undefined ? '' : ms(params.from)}|${params.to === undefined ? '' : ms(params.to)}`
  return params.figures === undefined ? range : `${range}|${params.figures.join(',')}`
}

/**
 * The aggregates a read covers: every one, or those `params.figures` names.
 * @throws MetricsStreamError `E_STREAM_INVALID_READ` for an unknown name or an empty list
 */
export function selectedAggregates(
  aggregates: Aggregates<any>,
  params: ReadParams | undefined,
): Array<[string, Aggregate<unknown, unknown>]> {
  const all = Object.entries(aggregates) as Array<[string, Aggregate<unknown, unknown>]>
  const names = params?.figures
  if (names === undefined) return all
  if (!Array.isArray(names) || names.length === 0) {
    throw new MetricsStreamError('E_STREAM_INVALID_READ', 'figures must name at least one figure of the view')
  }
  for (const name of names) {
    if (typeof name !== 'string' || !Object.hasOwn(aggregates, name)) {
      throw new MetricsStreamError('E_STREAM_INVALID_READ', `The view has no figure ${JSON.stringify(name)}`)
    }
  }
  const wanted = new Set(names)
  return all.filter(([name]) => wanted.has(name))
}

function ms(value: number | Date): number {
  return typeof value === 'number' ? value : value.getTime()
}

function toNumbers(hash: Record<string, string>): Record<string, number> {
  const result: Record<string, number> = {}
  for (const field in hash) result[field] = Number(hash[field])
  return result
}

/** Read every figure of the view (see the module note). @internal */
export async function fetchSnapshot<A extends Aggregates<any>>(
  state: DashboardState<A>,
  params: ReadParams | undefined,
  attempt = 0,
): Promise<DashboardSnapshot<A>> {
  const generation = state.generation
  const keys = viewKeys(state.namespace, state.view.name, generation)
  const multi = state.redis.multi()
  multi.get(keys.pointer)
  multi.hmget(keys.meta, ...META_FIELDS)
  const decoders: Array<[string, Decoder]> = []
  for (const [name, aggregate] of selectedAggregates(state.view.aggregates, params)) {
    decoders.push([name, plan(multi, keys, name, aggregate, params)])
  }
  let replies: unknown[]
  try {
    const result = await multi.exec()
    if (!result) throw new Error('MULTI aborted')
    replies = result.map(([error, value]) => {
      if (error) throw error
      return value
    })
  } catch (error) {
    throw new MetricsStreamError('E_STREAM_REDIS', 'Reading the dashboard failed', {
      view: state.view.name,
      retriable: true,
      cause: error,
    })
  }
  const pointer = replies[0] === null ? 1 : Number(replies[0])
  if (pointer !== generation && attempt === 0) {
    state.generation = pointer
    state.noticed = 0
    clearCache(state)
    return fetchSnapshot(state, params, 1)
  }
  const figures: Record<string, unknown> = {}
  let index = 2
  for (const [name, decode] of decoders) {
    const [value, next] = decode(replies, index)
    figures[name] = value
    index = next
  }
  const meta = parseMeta(replies[1] as Array<string | null>)
  let progress: RebuildProgress | undefined
  if (meta.status === 'rebuilding') {
    try {
      progress = await readProgress(state.redis, keys, meta)
    } catch (error) {
      throw new MetricsStreamError('E_STREAM_REDIS', 'Reading the rebuild progress failed', {
        view: state.view.name,
        retriable: true,
        cause: error,
      })
    }
  }
  return Object.freeze({
    version: meta.version,
    generation,
    figures: Object.freeze(figures) as Figures<A>,
    status: meta.status,
    epoch: meta.epoch,
    progress,
    reason: meta.reason,
    stale: false,
    ageMs: 0,
    staleReason: undefined,
  })
}

function plan(
  multi: ReturnType<Redis['multi']>,
  keys: ViewKeys,
  name: string,
  aggregate: Aggregate<unknown, unknown>,
  params: ReadParams | undefined,
): Decoder {
  const grouped = aggregate.kind === 'count' || aggregate.kind === 'sum' || aggregate.kind === 'latest'
  const hasGroups = aggregate.dimensions.length > 0
  const queue = (key: string) => {
    if (grouped) multi.hgetall(key)
    else if (aggregate.kind === 'top') multi.zrevrange(key, 0, aggregate.size - 1, 'WITHSCORES')
    else if (aggregate.exact) multi.hlen(key)
    else multi.pfcount(key)
  }
  const decodeOne = (reply: unknown): unknown => {
    if (grouped) {
      const numbers = toNumbers(reply as Record<string, string>)
      return hasGroups ? numbers : (numbers._ ?? 0)
    }
    if (aggregate.kind === 'top') {
      const flat = reply as string[]
      const ranked: Ranked[] = []
      for (let i = 0; i < flat.length; i += 2)
        ranked.push({ member: flat[i] as string, score: Number(flat[i + 1]) })
      return ranked
    }
    return Number(reply)
  }
  const bucket = aggregate.bucket
  if (!bucket) {
    queue(keys.aggregate(name))
    return (replies, index) => [decodeOne(replies[index]), index + 1]
  }
  const labels = bucketLabels(bucket.unit, aggregate.readBuckets, params)
  for (const label of labels) queue(keys.aggregate(name, label))
  return (replies, index) => {
    const result: Record<string, unknown> = {}
    labels.forEach((label, i) => {
      const reply = replies[index + i]
      const empty = grouped
        ? Object.keys(reply as object).length === 0
        : aggregate.kind === 'top'
          ? (reply as unknown[]).length === 0
          : Number(reply) === 0
      if (!empty) result[label] = decodeOne(reply)
    })
    return [result, index + labels.length]
  }
}

function bucketLabels(
  unit: 'hour' | 'day' | 'month',
  readBuckets: number,
  params: ReadParams | undefined,
): string[] {
  const to = bucketStart(unit, params?.to === undefined ? Date.now() : ms(params.to))
  let from: number
  if (params?.from !== undefined) {
    from = bucketStart(unit, ms(params.from))
  } else {
    from = to
    for (let i = 1; i < readBuckets; i++) {
      const d = new Date(from)
      from =
        unit === 'month'
          ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)
          : from - (unit === 'hour' ? 3_600_000 : 86_400_000)
    }
  }
  const labels: string[] = []
  for (let at = from; at <= to; at = nextBucket(unit, at)) {
    labels.push(bucketLabel(unit, at))
    if (labels.length > MAX_BUCKETS) {
      throw new MetricsStreamError('E_STREAM_INVALID_READ', `A read covers at most ${MAX_BUCKETS} buckets`)
    }
  }
  return labels
}
