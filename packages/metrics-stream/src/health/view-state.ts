/**
 * What Redis holds for a view generation, as readers and health checks see it. The consumer writes
 * it atomically with the state itself (the `init` and `complete` scripts, see
 * `consume/scripts.ts`), in the generation's meta hash:
 *
 * - `epoch`: a random id written when the generation's state is created. Its absence means Redis
 *   holds no state for the view (it lost its data, or no consumer has started): the figures are
 *   zeros that must not be read as complete (`missing`). A reader cannot tell "never started" from
 *   "lost", and does not need to: neither is a figure to show.
 * - `status`: `rebuilding` from the creation of the state until every partition has been applied
 *   up to the high watermark it had at that moment (`target` in the partition's hash), then
 *   `live`. A consumer that starts on a topic with history, and the automatic rebuild after Redis
 *   lost the state, both go through it, so readers never take a half-replayed generation for a
 *   complete one.
 * - `truncated` / `truncatedWhy`: the topic no longer holds events the figures need (records
 *   deleted by retention below a replay's start, or a delta-mode view replayed from a compacted
 *   topic): `incomplete`, for good, until rebuilt from a complete source.
 *
 * State written by a version without epochs (a `version` but no `epoch`) reads as `live`.
 */
import type { Cluster, Redis } from 'ioredis'
import type { MetricsStreamErrorCode } from '../errors.js'
import type { ViewKeys } from '../keys.js'

/**
 * How far a view's figures can be trusted: `live` (complete, as of the version read),
 * `rebuilding` (a replay from the topic is under way: partial), `incomplete` (the topic no longer
 * holds events the figures need: partial for good), `missing` (Redis holds no state for the view).
 */
export type ViewStatus = 'live' | 'rebuilding' | 'incomplete' | 'missing'

/** Replay progress of one partition. */
export interface PartitionProgress {
  readonly topic: string
  readonly partition: number
  /** Last offset applied (-1: none), a decimal string. */
  readonly applied: string
  /** The partition's high watermark when the rebuild started: the replay is done at it. */
  readonly target: string
  /** The partition's low watermark when the rebuild started (the first offset replayed). */
  readonly low: string
  /** Whether the partition reached its target. */
  readonly done: boolean
}

/** Progress of a rebuild: records applied vs records to replay, per partition and in all. */
export interface RebuildProgress {
  /** Records to replay (target - low, summed). */
  readonly records: number
  /** Records of them applied so far. */
  readonly applied: number
  /** `applied / records` (1 when there is nothing to replay). */
  readonly ratio: number
  /** When the rebuild started, epoch milliseconds. */
  readonly startedAt: number
  readonly partitions: readonly PartitionProgress[]
}

/** Why a view is not live: a stable code and a sentence. */
export interface ViewStateReason {
  /** `E_STREAM_REBUILDING`, `E_STREAM_STATE_MISSING`, `E_STREAM_LOG_TRUNCATED` or `E_STREAM_LOG_COMPACTED`. */
  readonly code: MetricsStreamErrorCode
  readonly message: string
}

/** A view generation's state in Redis. */
export interface ViewState {
  readonly status: ViewStatus
  /** The generation readers use. */
  readonly generation: number
  /** Identity of the generation's state ('' when there is none); a rebuild after a loss changes it. */
  readonly epoch: string
  /** The view version (applied chunks of this state). */
  readonly version: number
  /** Why the view is not live (undefined when live). */
  readonly reason: ViewStateReason | undefined
  /** While rebuilding: progress (from the partitions' hashes). */
  readonly progress: RebuildProgress | undefined
  /** `created` (first start over a topic with history) or `lost` (Redis lost the state). */
  readonly cause: string | undefined
  /** When the last rebuild started and ended (epoch ms), when known. */
  readonly startedAt: number | undefined
  readonly liveAt: number | undefined
}

/** Meta fields read with the figures, in this order. @internal */
export const META_FIELDS = [
  'version',
  'epoch',
  'status',
  'truncated',
  'truncatedWhy',
  'partitions',
  'startedAt',
  'liveAt',
  'cause',
] as const

/** The parts of a state read from the meta hash (`META_FIELDS` order). @internal */
export interface MetaReply {
  version: number
  epoch: string
  status: ViewStatus
  reason: ViewStateReason | undefined
  partitions: string
  startedAt: number | undefined
  liveAt: number | undefined
  cause: string | undefined
}

const optionalNumber = (value: string | null | undefined): number | undefined =>
  value === null || value === undefined || value === '' ? undefined : Number(value)

/** Decode an HMGET of `META_FIELDS`. @internal */
export function parseMeta(reply: ReadonlyArray<string | null>): MetaReply {
  const [version, epoch, status, truncated, truncatedWhy, partitions, startedAt, liveAt, cause] = reply
  let viewStatus: ViewStatus
  let reason: ViewStateReason | undefined
  if (!epoch) {
    if (version !== null && version !== undefined) viewStatus = 'live'
    else {
      viewStatus = 'missing'
      reason = {
        code: 'E_STREAM_STATE_MISSING',
        message:
          'Redis holds no state for this view (it lost its data, or no consumer has started): the figures are not known',
      }
    }
  } else if (truncated) {
    viewStatus = 'incomplete'
    reason = { code: truncated as MetricsStreamErrorCode, message: truncatedWhy ?? truncated }
  } else if (status === 'rebuilding') {
    viewStatus = 'rebuilding'
    reason = {
      code: 'E_STREAM_REBUILDING',
      message: 'The view is being rebuilt from the topic: the figures are partial until it completes',
    }
  } else viewStatus = 'live'
  return {
    version: version === null || version === undefined ? 0 : Number(version),
    epoch: epoch ?? '',
    status: viewStatus,
    reason,
    partitions: partitions ?? '',
    startedAt: optionalNumber(startedAt),
    liveAt: optionalNumber(liveAt),
    cause: cause ?? undefined,
  }
}

/** The partitions a rebuild tracks (meta `partitions`: `topic:partition` separated by spaces). @internal */
export function trackedPartitions(list: string): Array<{ topic: string; partition: number }> {
  if (list === '') return []
  return list.split(' ').map((entry) => {
    const colon = entry.lastIndexOf(':')
    return { topic: entry.slice(0, colon), partition: Number(entry.slice(colon + 1)) }
  })
}

/** Read the replay progress of the partitions a rebuild tracks (one round trip). @internal */
export async function readProgress(
  redis: Redis | Cluster,
  keys: ViewKeys,
  meta: MetaReply,
): Promise<RebuildProgress> {
  const tracked = trackedPartitions(meta.partitions)
  const pipeline = redis.pipeline()
  for (const { topic, partition } of tracked) {
    pipeline.hmget(keys.partition(topic, partition), 'offset', 'target', 'low', 'done')
  }
  const replies = tracked.length === 0 ? [] : ((await pipeline.exec()) ?? [])
  let records = 0
  let applied = 0
  const partitions = tracked.map(({ topic, partition }, index): PartitionProgress => {
    const reply = replies[index]
    if (reply?.[0]) throw reply[0]
    const [offset, target, low, done] = (reply?.[1] as Array<string | null> | undefined) ?? []
    const t = Number(target ?? 0)
    const l = Number(low ?? 0)
    const next = offset === null || offset === undefined ? l : Number(offset) + 1
    const span = Math.max(0, t - l)
    records += span
    applied += done === '1' ? span : Math.min(span, Math.max(0, next - l))
    return {
      topic,
      partition,
      applied: offset ?? '-1',
      target: target ?? '0',
      low: low ?? '0',
      done: done === '1',
    }
  })
  return {
    records,
    applied,
    ratio: records === 0 ? 1 : applied / records,
    startedAt: meta.startedAt ?? 0,
    partitions,
  }
}

/**
 * The state of the generation readers use: the pointer and the meta hash in one round trip, the
 * partitions' progress in a second one while rebuilding. @internal
 */
export async function readViewState(
  redis: Redis | Cluster,
  keysOf: (generation: number) => ViewKeys,
  generation?: number | undefined,
): Promise<ViewState> {
  let keys = keysOf(generation ?? 1)
  if (generation === undefined) {
    const pointer = await redis.get(keys.pointer)
    if (pointer !== null) keys = keysOf(Number(pointer))
  }
  const meta = parseMeta(await redis.hmget(keys.meta, ...META_FIELDS))
  return {
    status: meta.status,
    generation: keys.generation,
    epoch: meta.epoch,
    version: meta.version,
    reason: meta.reason,
    progress: meta.status === 'rebuilding' ? await readProgress(redis, keys, meta) : undefined,
    cause: meta.cause,
    startedAt: meta.startedAt,
    liveAt: meta.liveAt,
  }
}
