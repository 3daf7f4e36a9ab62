/**
 * The small interface between the aggregating consumer and a Kafka client, so another client
 * (e.g. `@platformatic/kafka`) can be plugged in. `kafkaSource` implements it with kafkajs 2.2.4.
 */

/** One Kafka record as the consumer needs it. */
export interface SourceMessage {
  /** The record's offset, as a decimal string. */
  readonly offset: string
  readonly key: Buffer | null
  readonly value: Buffer | null
  /** The record's timestamp (producer create time), epoch milliseconds as a decimal string. */
  readonly timestamp: string
}

/** A batch of records of one topic partition, in offset order. */
export interface SourceBatch {
  readonly topic: string
  readonly partition: number
  readonly messages: readonly SourceMessage[]
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
  start(handle: (batch: SourceBatch, context: SourceBatchContext) => Promise<void>): Promise<void>
  /** Whether this member is currently assigned the partition. */
  isAssigned(topic: string, partition: number): boolean
  /** Produce records (acknowledged by all in-sync replicas before it resolves). */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>
  /** The next offset to be written per partition (the high watermark). */
  highWatermarks(topic: string): Promise<Array<{ partition: number; high: string; low: string }>>
  /** Leave the group and disconnect. */
  stop(): Promise<void>
}
