/**
 * Lag of Redis behind Kafka, per partition: the high watermark Kafka reports minus the next
 * offset Redis would apply (stored + 1, or the low watermark when nothing was applied). A
 * pipeline that could not be answered (Redis reconnecting) is a failure, never "nothing applied
 * yet".
 */
import type { Cluster, Redis } from 'ioredis'
import { MetricsStreamError } from '../errors.js'
import type { ViewKeys } from '../keys.js'
import type { Source } from './source.js'
/** Per-partition lag of Redis behind Kafka. */
export interface PartitionLag {
  topic: string
  partition: number
  /** Next offset Kafka will write. */
  high: string
  /** Last offset applied to Redis (-1: none). */
  applied: string
  /** Records written to Kafka and not yet applied to Redis. */
  lag: number
}

/** @internal Lag per partition of every source topic. */
export async function computeLag(
  redis: Redis | Cluster,
  keys: ViewKeys,
  source: Source,
): Promise<PartitionLag[]> {
  const result: PartitionLag[] = []
  for (const topic of source.topics) {
    const highs = await source.highWatermarks(topic)
    const pipeline = redis.pipeline()
    for (const { partition } of highs) pipeline.hget(keys.partition(topic, partition), 'offset')
    const replies = (await pipeline.exec()) ?? []
    // A pipeline resolves with each command's error: a Redis that could not answer (commands
    // flushed while reconnecting) is a failure, never "nothing applied yet" (a lag from offset 0).
    for (const [error] of replies) {
      if (error) {
        throw new MetricsStreamError('E_STREAM_REDIS', 'Reading the applied offsets failed', {
          topic,
          retriable: true,
          cause: error,
        })
      }
    }
    highs.forEach(({ partition, high, low }, index) => {
      const reply = replies[index]
      const stored = reply && reply[0] === null && typeof reply[1] === 'string' ? BigInt(reply[1]) : -1n
      const from = stored < 0n ? BigInt(low) : stored + 1n
      const lag = BigInt(high) - from
      result.push({ topic, partition, high, applied: String(stored), lag: lag > 0n ? Number(lag) : 0 })
    })
  }
  return result
}
