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
