/**
 * The apply path alone, in this process: the consumer fed from memory, without Kafka.
 */
import {
  createMetricsConsumer,
  type Source,
  type SourceBatch,
  type SourceBatchContext,
  type SourceMessage,
} from '@ayala/metrics-stream'
import { Redis } from 'ioredis'
import { type BenchEvent, entityView, view } from './events.js'
import { PARTITIONS } from './settings.js'

/**
 * The apply path alone: the same backlog, already fetched, handed to the exactly-once consumer
 * through an in-memory `Source` (4 partitions in parallel, batches of 2,000), so the figure is
 * decode + pre-aggregation + scripts without kafkajs's fetch and record decoding.
 */
export async function applyPathRate(
  url: string,
  backlog: readonly BenchEvent[],
  namespace: string,
  options: { batchSize?: number; scriptBudget?: number; entity?: boolean },
): Promise<number> {
  const redis = new Redis(url)
  const partitions: SourceMessage[][] = Array.from({ length: PARTITIONS }, () => [])
  backlog.forEach((event, i) => {
    const log = partitions[i % PARTITIONS] as SourceMessage[]
    log.push({
      offset: String(log.length),
      key: Buffer.from(event.id),
      value: Buffer.from(JSON.stringify(event)),
      timestamp: String(Date.now()),
    })
  })
  let handle: ((batch: SourceBatch, context: SourceBatchContext) => Promise<void>) | undefined
  const source: Source = {
    topics: ['memory'],
    start: async (h) => {
      handle = h
    },
    isAssigned: () => true,
    send: async () => undefined,
    highWatermarks: async () => [],
    stop: async () => undefined,
  }
  const { entity, ...consumerOptions } = options
  const consumer = createMetricsConsumer({
    redis,
    namespace,
    view: entity ? entityView : view,
    source,
    ...consumerOptions,
  })
  await consumer.start()
  const context: SourceBatchContext = {
    assignment: 1,
    isActive: () => true,
    commit: async () => undefined,
    heartbeat: async () => undefined,
    seek: () => undefined,
  }
  const started = performance.now()
  await Promise.all(
    partitions.map(async (log, partition) => {
      for (let i = 0; i < log.length; i += 2_000) {
        await handle?.({ topic: 'memory', partition, messages: log.slice(i, i + 2_000) }, context)
      }
    }),
  )
  const rate = consumer.stats().applied / ((performance.now() - started) / 1_000)
  await consumer.stop()
  redis.disconnect()
  return rate
}
