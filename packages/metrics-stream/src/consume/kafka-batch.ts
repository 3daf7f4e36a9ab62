/**
 * kafkajs's batch as the consumer sees it ({@link SourceBatch}), for the kafkajs source
 * (`kafka-source.ts`).
 *
 * - Offsets: each batch carries the offset kafkajs fetched from (`fetchedOffset`) and the last
 *   offset it covers (`lastOffset`, a trailing transaction commit marker included), so the
 *   consumer tells a gap of filtered records (markers, aborted records) from Redis having lost
 *   data.
 * - Compression: kafkajs decodes gzip only; `installCodecs` (see `codecs.ts`) registers snappy,
 *   lz4 and zstd, and the kafkajs consumer runs inside `sourceScope`, so a record batch that
 *   cannot be decoded reaches `eachBatch` as stand-in records of its partition only (marked with
 *   `UNDECODABLE_HEADER`, the raw bytes on one of them). {@link toSourceBatch} hands the records
 *   before it, then the batch as {@link SourceBatch.undecodable}, and drops what follows it in the
 *   fetch (fetched again later, once the consumer moved past or decoded it).
 */
import type { Batch } from 'kafkajs'
import { MetricsStreamError } from '../errors.js'
import { UNDECODABLE_HEADER, type UndecodableDetail, undecodableSeen } from './codecs.js'
import type { SourceBatch, SourceMessage, UndecodableBatch } from './source.js'

/**
 * kafkajs's batch as the consumer sees it: the offsets it covers, and the records up to the
 * first stand-in record of an undecodable batch (see `codecs.ts`), if any. @internal
 */
export function toSourceBatch(batch: Batch): SourceBatch {
  const { topic, partition, messages } = batch
  const fetchedOffset = (batch as Batch & { fetchedOffset?: string }).fetchedOffset
  const at =
    undecodableSeen.count === 0
      ? -1
      : messages.findIndex((m) => m.headers?.[UNDECODABLE_HEADER] !== undefined)
  if (at < 0) return { topic, partition, messages, fetchedOffset, lastOffset: batch.lastOffset() }
  const standIn = messages[at] as (typeof messages)[number] & {
    batchContext?: { firstOffset: string; lastOffsetDelta: number }
  }
  const context = standIn.batchContext
  const firstOffset = context?.firstOffset ?? standIn.offset
  const lastOffset = context
    ? String(BigInt(context.firstOffset) + BigInt(context.lastOffsetDelta))
    : standIn.offset
  let end = at
  let raw: Buffer | null = null
  let detail: UndecodableDetail = { codec: 'unknown', error: 'unknown' }
  while (
    end < messages.length &&
    (messages[end] as (typeof messages)[number]).headers?.[UNDECODABLE_HEADER] !== undefined
  ) {
    const message = messages[end] as (typeof messages)[number]
    if (BigInt(message.offset) > BigInt(lastOffset)) break
    if (message.value !== null && message.value.length > 0) {
      raw = message.value
      detail = JSON.parse(String(message.headers?.[UNDECODABLE_HEADER])) as UndecodableDetail
    }
    end++
  }
  const undecodable: UndecodableBatch = {
    firstOffset,
    lastOffset,
    records: end - at,
    raw,
    error: new MetricsStreamError(
      'E_STREAM_UNDECODABLE',
      `Cannot decode the ${detail.codec} record batch at offsets ${firstOffset}..${lastOffset} of ${topic}/${partition}: ${detail.error}`,
      { topic, partition, offset: firstOffset },
    ),
  }
  const before = messages.slice(0, at) as SourceMessage[]
  const previous = BigInt(firstOffset) - 1n
  return {
    topic,
    partition,
    messages: before,
    fetchedOffset,
    lastOffset:
      fetchedOffset !== undefined && previous >= BigInt(fetchedOffset)
        ? String(previous)
        : before[before.length - 1]?.offset,
    undecodable,
  }
}
