/**
 * The codecs and the decoding fixes without a broker: round trips through each codec, the
 * pre-22.15 zstd path, the stand-in records of a batch that cannot be decoded (encoded and
 * decoded by kafkajs's own record batch code), and the read-committed rule against kafkajs's.
 */
import { createRequire } from 'node:module'
import zlib from 'node:zlib'
import { CompressionCodecs, CompressionTypes } from 'kafkajs'
import snappyjs from 'snappyjs'
import { afterEach, describe, expect, it } from 'vitest'
import {
  fzstdDecompress,
  installCodecs,
  lz4Codec,
  snappyCodec,
  sourceScope,
  UNDECODABLE_HEADER,
  zstdCodec,
} from '../../../src/consume/codecs.js'
import { dropAborted } from '../../../src/consume/transactions.js'

const kafkajsFile = createRequire(createRequire(import.meta.url).resolve('kafkajs'))
const { RecordBatch } = kafkajsFile('./src/protocol/recordBatch/v0/index.js') as {
  RecordBatch: (options: object) => Promise<{ buffer: Buffer }>
}
const Record = kafkajsFile('./src/protocol/recordBatch/record/v0/index.js') as (options: object) => unknown
const Decoder = kafkajsFile('./src/protocol/decoder.js') as new (buffer: Buffer) => unknown
const decodeBatch = kafkajsFile('./src/protocol/recordBatch/v0/decoder.js') as (decoder: unknown) => Promise<{
  records: Array<{
    offset: string
    key: Buffer | null
    value: Buffer | null
    headers: Record<string, Buffer>
  }>
}>
const filterAbortedMessages = kafkajsFile('./src/consumer/filterAbortedMessages.js') as (
  options: object,
) => unknown[]

/** JSON-ish text that compresses, longer than one snappy (32 KiB) and one lz4 (64 KiB) block. */
const sample = Buffer.from(
  Array.from({ length: 4_000 }, (_, i) => `{"id":"inv-${i}","amountCents":${(i * 7919) % 100_000}}`).join(
    '\n',
  ),
)

describe('codecs', () => {
  it('snappy: xerial framing over several blocks, and unframed snappy', async () => {
    const framed = await snappyCodec.compress({ buffer: sample })
    expect(framed.subarray(0, 8)).toEqual(Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]))
    expect(await snappyCodec.decompress(framed)).toEqual(sample)
    const raw = Buffer.from(snappyjs.compress(sample))
    expect(await snappyCodec.decompress(raw)).toEqual(sample)
  })

  it('lz4 and zstd round trips; zstd through fzstd (Node before 22.15) too', async () => {
    expect(await lz4Codec.decompress(await lz4Codec.compress({ buffer: sample }))).toEqual(sample)
    const zstd = zlib.zstdCompressSync(sample)
    expect(await zstdCodec.decompress(zstd)).toEqual(sample)
    expect(await fzstdDecompress(zstd)).toEqual(sample)
  })
})

describe('a batch a codec cannot decode', () => {
  const entry = CompressionCodecs[CompressionTypes.ZSTD]
  afterEach(() => {
    CompressionCodecs[CompressionTypes.ZSTD] = entry
  })

  async function encoded(count: number) {
    installCodecs()
    const records = Array.from({ length: count }, (_, i) =>
      Record({ offsetDelta: i, key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), headers: { h: 'x' } }),
    )
    // As a fetch response holds it: first offset, length, then the batch.
    const batch = await RecordBatch({
      compression: CompressionTypes.ZSTD,
      firstOffset: 100,
      lastOffsetDelta: count - 1,
      records,
    })
    return Buffer.from(batch.buffer)
  }

  const broken = () => ({
    compress: () => Buffer.alloc(0),
    decompress: () => {
      throw new Error('broken zstd')
    },
  })

  it('decodes into stand-in records of that batch inside a source, and throws elsewhere', async () => {
    const bytes = await encoded(5)
    expect((await decodeBatch(new Decoder(bytes))).records.map((r) => r.value?.toString())).toEqual([
      'v0',
      'v1',
      'v2',
      'v3',
      'v4',
    ])
    CompressionCodecs[CompressionTypes.ZSTD] = broken
    installCodecs() // wraps the application's codec
    await expect(decodeBatch(new Decoder(bytes))).rejects.toThrow('broken zstd')
    const { records } = await sourceScope.run(true, () => decodeBatch(new Decoder(bytes)))
    expect(records.map((r) => r.offset)).toEqual(['100', '101', '102', '103', '104'])
    expect(records.every((r) => r.headers[UNDECODABLE_HEADER] !== undefined && r.key === null)).toBe(true)
    const last = records[4] as (typeof records)[number]
    // The batch as the broker stored it: from the first offset to its end.
    expect(last.value).toEqual(bytes)
    expect(JSON.parse(String(last.headers[UNDECODABLE_HEADER]))).toEqual({
      codec: 'zstd',
      error: 'Error: broken zstd',
    })
  })

  it('is isolated even when the codec factory itself throws (kafkajs calls it outside decompress)', async () => {
    const bytes = await encoded(3)
    CompressionCodecs[CompressionTypes.ZSTD] = () => {
      throw new Error('no zstd binding')
    }
    installCodecs()
    const { records } = await sourceScope.run(true, () => decodeBatch(new Decoder(bytes)))
    expect(records).toHaveLength(3)
    expect(String(records[2]?.headers[UNDECODABLE_HEADER])).toContain('no zstd binding')
  })
})

describe('read committed with interleaved transactional producers', () => {
  // Records as kafkajs decodes them: one record batch per record, producers "A" and "B".
  const ctx = (offset: number, producerId: string, control = false) => ({
    firstOffset: String(offset),
    lastOffsetDelta: 0,
    producerId,
    inTransaction: true,
    isControlBatch: control,
  })
  const data = (offset: number, producerId: string) => ({
    offset: String(offset),
    key: Buffer.from('k'),
    isControlRecord: false,
    batchContext: ctx(offset, producerId),
  })
  const abort = (offset: number, producerId: string) => ({
    offset: String(offset),
    key: Buffer.from([0, 0, 0, 0]),
    isControlRecord: true,
    batchContext: ctx(offset, producerId, true),
  })
  const commit = (offset: number, producerId: string) => ({
    offset: String(offset),
    key: Buffer.from([0, 0, 0, 1]),
    isControlRecord: true,
    batchContext: ctx(offset, producerId, true),
  })
  const kept = (messages: Array<{ offset: string; isControlRecord: boolean }>) =>
    messages.filter((m) => !m.isControlRecord).map((m) => m.offset)

  it('drops both aborted transactions when the one that began first aborts last', () => {
    // A: 0, 1, 3 (aborted at 5); B: 2 (aborted at 4). The broker lists aborts in marker order.
    const messages = () => [
      data(0, 'A'),
      data(1, 'A'),
      data(2, 'B'),
      data(3, 'A'),
      abort(4, 'B'),
      abort(5, 'A'),
    ]
    const abortedTransactions = [
      { producerId: 'B', firstOffset: '2' },
      { producerId: 'A', firstOffset: '0' },
    ]
    // kafkajs's own filter lets A's first two records through:
    const theirs = filterAbortedMessages({ messages: messages(), abortedTransactions }) as ReturnType<
      typeof messages
    >
    expect(kept(theirs)).toEqual(['0', '1'])
    const partition = { abortedTransactions, messages: messages() }
    dropAborted(partition)
    expect(kept(partition.messages)).toEqual([])
    expect(partition.abortedTransactions).toEqual([])
  })

  it('drops two aborted transactions that were both open before the fetch, keeps a committed one', () => {
    // Fetched from 10: A (from 3) and B (from 4) are both open and aborted; C commits.
    const messages = () => [
      data(10, 'B'),
      data(11, 'A'),
      data(12, 'C'),
      abort(13, 'A'),
      abort(14, 'B'),
      commit(15, 'C'),
    ]
    const abortedTransactions = [
      { producerId: 'A', firstOffset: '3' },
      { producerId: 'B', firstOffset: '4' },
    ]
    const theirs = filterAbortedMessages({ messages: messages(), abortedTransactions }) as ReturnType<
      typeof messages
    >
    expect(kept(theirs)).toEqual(['10', '12'])
    const partition = { abortedTransactions, messages: messages() }
    dropAborted(partition)
    expect(kept(partition.messages)).toEqual(['12'])
  })
})
