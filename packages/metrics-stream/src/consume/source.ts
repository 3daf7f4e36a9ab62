/**
 * The small interface between the aggregating consumer and a Kafka client, so another client
 * (e.g. `@platformatic/kafka`) can be plugged in. `kafkaSource` implements it with kafkajs 2.2.4.
 */
import type { MetricsStreamError } from '../errors.js'

/** One Kafka record as the consumer needs it. */
export interface SourceMessage {
  /** The record's offset, as a decimal string. */
  readonly offset: string
  readonly key: Buffer | null
  readonly value: Buffer | null
  /** The record's timestamp (producer create time), epoch milliseconds as a decimal string. */
  readonly timestamp: string
}

/**
 * A record batch the source fetched but could not decode (an unknown or failing compression
 * codec, corrupt bytes): its records are not in {@link SourceBatch.messages}.
 */
export interface UndecodableBatch {
  /** The batch's first and last offsets (decimal strings). */
  readonly firstOffset: string
  readonly lastOffset: string
  /** Records of the batch at or after the offset the source fetched from. */
  readonly records: number
  /** Code `E_STREAM_UNDECODABLE`, with `topic`, `partition`, `offset` (the first offset). */
  readonly error: MetricsStreamError
  /** The batch as Kafka stored it (header included), when the source has its bytes. */
  readonly raw: Buffer | null
}

/** A batch of records of one topic partition, in offset order. */
export interface SourceBatch {
  readonly topic: string
  readonly partition: number
  /** Possibly empty when the batch only covers filtered records or stops at an undecodable one. */
  readonly messages: readonly SourceMessage[]
  /**
   * The offset the source fetched from, when it knows it: offsets from it up to the first
   * message are records the source filtered out (transaction markers, aborted transactions),
   * not records missing from Kafka. @default the first message's offset
   */
  readonly fetchedOffset?: string | undefined
  /**
   * The last offset the batch covers, at or after its last message (trailing records filtered
   * out: a transaction's commit marker, aborted records). Committing it moves past them.
   * @default the last message's offset
   */
  readonly lastOffset?: string | undefined
  /** Set when the source stopped the batch at a record batch it could not decode. */
  readonly undecodable?: UndecodableBatch | undefined
}

/** What the consumer may do while it handles a batch. */
export interface SourceBatchContext {
  /** Counter bumped at every group (re)assignment of this member; claims are per assignment. */
  readonly assignment: number
  /** False once the member stopped or the partition was sought/revoked: stop handling the batch. */
  isActive(): boolean
  /** Mark records up to `offset` as done and commit if the commit policy says so. */
  commit(offset: string): Promise<void>
  /** Tell the group coordinator the member is alive (between chunks). */
  heartbeat(): Promise<void>
  /** Fetch the partition from `offset` next; the rest of this batch must be dropped. */
  seek(offset: string): void
  /**
   * Fetch nothing more of this partition for `ms` milliseconds, then fetch it again from the
   * first record not committed (used to retry an undecodable batch without spinning). A source
   * that never reports {@link SourceBatch.undecodable} need not implement it.
   */
  pause?: ((ms: number) => void) | undefined
}

/** What a source reports about itself outside batches. */
export interface SourceEvents {
  /**
   * The source cannot fetch (e.g. its Kafka client crashed); it keeps retrying by itself.
   * `error.code` is `E_STREAM_KAFKA`.
   */
  error(error: MetricsStreamError): void
  /** The source fetched again after an {@link SourceEvents.error}. */
  recovered(): void
}

/** A record to produce (dead letters, late events). */
export interface OutgoingMessage {
  key: Buffer | string | null
  value: Buffer | string | null
  headers: Record<string, string>
}

/** A consumer-group source of record batches. */
export interface Source {
  /** Topics consumed. */
  readonly topics: readonly string[]
  /**
   * Start consuming: `handle` is called per batch, one batch at a time per partition, partitions
   * in parallel. A batch whose records are not committed is delivered again.
   */
  start(
    handle: (batch: SourceBatch, context: SourceBatchContext) => Promise<void>,
    events?: SourceEvents,
  ): Promise<void>
  /** Whether this member is currently assigned the partition. */
  isAssigned(topic: string, partition: number): boolean
  /** Produce records (acknowledged by all in-sync replicas before it resolves). */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>
  /** The next offset to be written per partition (the high watermark). */
  highWatermarks(topic: string): Promise<Array<{ partition: number; high: string; low: string }>>
  /**
   * The partitions this member is assigned now. Optional: with it (and `seek`), a consumer whose
   * view's state Redis lost rewinds idle partitions too, not only those that receive new records.
   */
  assignedPartitions?(): Array<{ topic: string; partition: number }>
  /** Fetch an assigned partition from `offset` next, outside a batch. Optional, see above. */
  seek?(topic: string, partition: number, offset: string): void
  /**
   * The topic's `cleanup.policy` (`delete`, `compact`, `compact,delete`), when the source can
   * tell. Optional: with it, a delta-mode view replayed from a compacted topic is reported
   * incomplete (`E_STREAM_LOG_COMPACTED`).
   */
  cleanupPolicy?(topic: string): Promise<string | undefined>
  /** Leave the group and disconnect. */
  stop(): Promise<void>
}
