/**
 * Key layout. Every key one partition's apply script touches carries the same Redis Cluster hash
 * tag `{<namespace>:<topic>:<partition>}`, so the script's aggregate deltas and the partition's
 * applied offset always live in one slot and can be updated atomically, on a single node or a
 * cluster alike.
 */
import { MetricsStreamError } from './errors.js'

const FORBIDDEN = /[{}\s]/

/** The keys of one topic partition's state. */
export interface PartitionKeys {
  /** The hash tag shared by every key of the partition. */
  readonly slot: string
  /** Hash of the partition's state: last applied offset, owner epoch, watermark. */
  readonly state: string
  /** Prefix of the partition's aggregate keys (append the aggregate's own name). */
  readonly aggregatePrefix: string
}

function checkPart(name: string, value: string): void {
  if (value.length === 0 || FORBIDDEN.test(value)) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `Invalid ${name} ${JSON.stringify(value)}: it must be non-empty and contain no braces or whitespace`,
    )
  }
}

/**
 * The keys of a topic partition's state, all in one cluster slot.
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` for an empty namespace or topic, or one
 * with braces or whitespace (they would break the hash tag)
 */
export function partitionKeys(namespace: string, topic: string, partition: number): PartitionKeys {
  checkPart('namespace', namespace)
  checkPart('topic', topic)
  if (!Number.isInteger(partition) || partition < 0) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', `Invalid partition ${partition}`, { topic })
  }
  const slot = `{${namespace}:${topic}:${partition}}`
  return { slot, state: `${slot}:state`, aggregatePrefix: `${slot}:agg:` }
}

/**
 * The keys of one view, all under the view's hash tag `{<namespace>:<view>}`: every generation's
 * aggregates, the per-partition state (applied offset, owner token, watermark, counters), the
 * version counter, the entities of an entity-mode view and the pointer to the generation readers
 * use. One tag per view means a chunk's
 * deltas, its partition offset and the version bump are one atomic script on a single node or a
 * Redis Cluster alike, and a dashboard read is one single-slot round trip with nothing to merge.
 * The trade-off on a cluster: a view lives on one shard (spread load with several views, not by
 * partition).
 */
export interface ViewKeys {
  /** The hash tag shared by every key of the view. */
  readonly slot: string
  /** The generation these keys belong to. */
  readonly generation: number
  /** String key holding the generation readers use (shared by all generations). */
  readonly pointer: string
  /** Hash of the generation: `version` (bumped by every applied chunk). */
  readonly meta: string
  /** Pub/sub channel of change notices (shared by all generations). */
  readonly channel: string
  /**
   * Hash of the generation's entities (entity-mode views): entity key -> `<version>:<stored
   * contribution>` (see `aggregates/plan.ts`).
   */
  readonly entities: string
  /** Hash of one topic partition's state in this generation. */
  partition(topic: string, partition: number): string
  /** Key of one aggregate, with its time bucket label when bucketed. */
  aggregate(name: string, bucket?: string | undefined): string
}

/**
 * The keys of a view generation, all in one cluster slot.
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` for an empty namespace or view, one with
 * braces or whitespace, or a generation that is not a positive integer
 */
export function viewKeys(namespace: string, view: string, generation: number): ViewKeys {
  checkPart('namespace', namespace)
  checkPart('view', view)
  if (!Number.isSafeInteger(generation) || generation < 1) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', `Invalid generation ${generation}`, { view })
  }
  const slot = `{${namespace}:${view}}`
  const base = `${slot}:g${generation}:`
  return {
    slot,
    generation,
    pointer: `${slot}:current`,
    meta: `${base}meta`,
    entities: `${base}e`,
    channel: `${namespace}:${view}:changes`,
    partition: (topic, partition) => `${base}p:${topic}:${partition}`,
    aggregate: (name, bucket) => (bucket === undefined ? `${base}a:${name}` : `${base}a:${name}:${bucket}`),
  }
}
