/**
 * Compression codecs for kafkajs 2.2.4, which decodes only gzip itself: a record batch written
 * with snappy, lz4 or zstd (what the Java client, Flink and Kafka Streams write when
 * `compression.type` says so) makes the whole fetch fail inside kafkajs. The mechanism:
 *
 * - **Registration.** kafkajs looks codecs up in one global table, `CompressionCodecs`, by the
 *   batch's codec id. {@link installCodecs} (called by every `kafkaSource`; idempotent) fills the
 *   ids whose entry is still kafkajs's own stub (the factory that throws `KafkaJSNotImplemented`)
 *   and keeps any codec the application registered. The decoders are pure JavaScript (nothing is
 *   built at install): zstd uses Node's own `zlib` zstd where it exists (22.15+), `fzstd` before;
 *   snappy reads the xerial framing the Java client writes (and unframed Snappy, as kafkajs
 *   producers with `kafkajs-snappy` write it); lz4 reads Kafka's LZ4 frame (`lz4js`). Each decoder
 *   is loaded on first use only. The producing side is there too (kafkajs producers of the same
 *   process may use `CompressionTypes.Snappy`, `LZ4`, `ZSTD`; zstd needs Node's zlib zstd).
 * - **Isolation of a batch that cannot be decoded.** kafkajs decodes a whole fetch response at
 *   once, so one bad batch fails every partition the broker returned, and kafkajs retries the
 *   same fetch (or gives up for good on `KafkaJSNotImplemented`), silently. Every codec entry (ours
 *   and the application's) is wrapped: when decompressing fails *inside a fetch of a
 *   `kafkaSource` consumer* ({@link sourceScope}, an AsyncLocalStorage the source runs its kafkajs
 *   consumer in), the wrapper returns, instead of throwing, stand-in records for exactly that
 *   batch: as many as the batch holds, at its offsets, each carrying the header
 *   {@link UNDECODABLE_HEADER} (a name with a random part, so no producer can forge it); the last
 *   one carries the batch's bytes as Kafka stored them and the error. The fetch then succeeds,
 *   kafkajs applies its transaction filtering to them like to any record of that batch, and the
 *   source hands the consumer that partition's decodable records followed by the undecodable
 *   range. Every other kafkajs client in the process sees the codec's own error, unchanged.
 *   The batch header is read from the bytes just before the compressed payload in kafkajs's
 *   response buffer (kafkajs slices, never copies); the wrapper checks the batch length, magic
 *   byte and codec id there and falls back to throwing when they do not match.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import kafkajs from 'kafkajs'

/** kafkajs's codec object. */
interface Codec {
  compress(encoder: { buffer: Buffer }): Buffer | Promise<Buffer>
  decompress(buffer: Buffer): Buffer | Promise<Buffer>
}
type CodecFactory = () => Codec

/** Kafka's codec ids (record batch attributes, bits 0-2). */
export const CODEC_IDS = Object.freeze({ gzip: 1, snappy: 2, lz4: 3, zstd: 4 })
const CODEC_NAMES: Record<number, string> = { 1: 'gzip', 2: 'snappy', 3: 'lz4', 4: 'zstd' }

/** Set (to true) around everything a `kafkaSource` consumer does: see the module header. */
export const sourceScope = new AsyncLocalStorage<true>()

/** Header name of the stand-in records of an undecodable batch (random per process). */
export const UNDECODABLE_HEADER = `x-ayala-undecodable-${randomUUID()}`

/** Undecodable batches turned into stand-in records since the process started. */
export const undecodableSeen = { count: 0 }

// ---------------------------------------------------------------------------------------------
// Decoders

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
const XERIAL_HEADER = 16
const XERIAL_BLOCK = 32 * 1024

const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

type Snappy = typeof import('snappyjs')
type Lz4 = typeof import('lz4js')
type Fzstd = typeof import('fzstd')
let snappyjs: Promise<Snappy> | undefined
let lz4js: Promise<Lz4> | undefined
let fzstd: Promise<Fzstd> | undefined
function loadSnappy(): Promise<Snappy> {
  snappyjs ??= import('snappyjs')
  return snappyjs
}
function loadLz4(): Promise<Lz4> {
  lz4js ??= import('lz4js')
  return lz4js
}
function loadFzstd(): Promise<Fzstd> {
  fzstd ??= import('fzstd')
  return fzstd
}

/** Snappy as the Java client writes it (xerial framing: a 16-byte header, then length-prefixed blocks). */
export const snappyCodec: Codec = {
  async compress(encoder) {
    const snappy = await loadSnappy()
    const input = encoder.buffer
    const parts: Buffer[] = [XERIAL_MAGIC, Buffer.from([0, 0, 0, 1, 0, 0, 0, 1])]
    for (let at = 0; at < input.length; at += XERIAL_BLOCK) {
      const block = toBuffer(snappy.compress(input.subarray(at, at + XERIAL_BLOCK)))
      const length = Buffer.allocUnsafe(4)
      length.writeInt32BE(block.length, 0)
      parts.push(length, block)
    }
    return Buffer.concat(parts)
  },
  async decompress(buffer) {
    const snappy = await loadSnappy()
    if (buffer.length < XERIAL_HEADER || !buffer.subarray(0, 8).equals(XERIAL_MAGIC)) {
      return toBuffer(snappy.uncompress(buffer))
    }
    const blocks: Buffer[] = []
    for (let at = XERIAL_HEADER; at < buffer.length; ) {
      if (at + 4 > buffer.length) throw new Error('Truncated xerial snappy block header')
      const length = buffer.readInt32BE(at)
      at += 4
      if (length < 0 || at + length > buffer.length) throw new Error('Truncated xerial snappy block')
      blocks.push(toBuffer(snappy.uncompress(buffer.subarray(at, at + length))))
      at += length
    }
    return blocks.length === 1 ? (blocks[0] as Buffer) : Buffer.concat(blocks)
  },
}

/** Kafka's LZ4: one standard LZ4 frame (KIP-57; magic v1+ batches). */
export const lz4Codec: Codec = {
  async compress(encoder) {
    return toBuffer((await loadLz4()).compress(encoder.buffer))
  },
  async decompress(buffer) {
    return toBuffer((await loadLz4()).decompress(buffer))
  },
}

const zstdDecompress = typeof zlib.zstdDecompress === 'function' ? promisify(zlib.zstdDecompress) : undefined
const zstdCompress = typeof zlib.zstdCompress === 'function' ? promisify(zlib.zstdCompress) : undefined

/** Zstandard frames: Node's zlib when it has zstd (22.15+), else the pure-JS `fzstd` decoder. */
export const zstdCodec: Codec = {
  async compress(encoder) {
    if (!zstdCompress) throw new Error('Producing zstd needs Node 22.15+ (zlib zstd)')
    return await zstdCompress(encoder.buffer)
  },
  async decompress(buffer) {
    if (zstdDecompress) return await zstdDecompress(buffer)
    return await fzstdDecompress(buffer)
  },
}

/** @internal The pre-22.15 zstd path, exported for its own test. */
export async function fzstdDecompress(buffer: Buffer): Promise<Buffer> {
  const { decompress } = await loadFzstd()
  return toBuffer(decompress(buffer))
}

// ---------------------------------------------------------------------------------------------
// Registration and isolation

const WRAPPED = Symbol.for('@ayala/metrics-stream.isolating-codec')

function isKafkajsStub(factory: CodecFactory | undefined): boolean {
  if (typeof factory !== 'function') return true
  try {
    factory()
    return false
  } catch (error) {
    return (error as { name?: unknown }).name === 'KafkaJSNotImplemented'
  }
}

const OURS: Readonly<Record<number, Codec>> = Object.freeze({
  [CODEC_IDS.snappy]: snappyCodec,
  [CODEC_IDS.lz4]: lz4Codec,
  [CODEC_IDS.zstd]: zstdCodec,
})

/**
 * Register snappy, lz4 and zstd in kafkajs's global `CompressionCodecs` where kafkajs still has
 * its stub, and wrap every codec not wrapped yet so a batch it cannot decode is isolated (module
 * header). `kafkaSource` calls it at creation: an entry already ours or wrapped is left as it
 * is, so a codec the application registers before creating a source is kept (and wrapped).
 */
export function installCodecs(): void {
  const registry = kafkajs.CompressionCodecs as unknown as Record<number, CodecFactory | undefined>
  for (const type of Object.values(CODEC_IDS)) {
    const current = registry[type]
    if (current !== undefined && (current as { [WRAPPED]?: true })[WRAPPED]) continue
    const own = OURS[type]
    const factory: CodecFactory | undefined =
      own !== undefined && isKafkajsStub(current) ? () => own : current
    if (factory !== undefined) registry[type] = isolating(type, factory)
  }
}

function isolating(type: number, factory: CodecFactory): CodecFactory {
  const wrapped = (): Codec => {
    let codec: Codec
    try {
      codec = factory()
    } catch (error) {
      // kafkajs calls the factory outside `decompress`: defer the error to where it is isolated.
      const fail = () => {
        throw error
      }
      codec = { compress: fail, decompress: fail }
    }
    return {
      compress: (encoder) => codec.compress(encoder),
      async decompress(buffer) {
        try {
          return await codec.decompress(buffer)
        } catch (error) {
          if (sourceScope.getStore() !== true) throw error
          const standIns = standInRecords(buffer, type, error)
          if (standIns === undefined) throw error
          undecodableSeen.count++
          return standIns
        }
      },
    }
  }
  Object.defineProperty(wrapped, WRAPPED, { value: true })
  return wrapped
}

// Record batch v2 header: firstOffset 0, length 8, leaderEpoch 12, magic 16, crc 17,
// attributes 21, lastOffsetDelta 23, timestamps 27/35, producer 43/51, sequence 53, count 57.
const BATCH_HEADER = 61

/** What the last stand-in record's marker header holds. */
export interface UndecodableDetail {
  codec: string
  error: string
}

/**
 * The decompressed form kafkajs will parse into `count` stand-in records of the batch whose
 * compressed payload is `payload`, or undefined when the batch header cannot be located.
 */
function standInRecords(payload: Buffer, type: number, error: unknown): Buffer | undefined {
  if (payload.byteOffset < BATCH_HEADER) return undefined
  const batch = Buffer.from(payload.buffer, payload.byteOffset - BATCH_HEADER, BATCH_HEADER + payload.length)
  if (batch.readInt32BE(8) !== BATCH_HEADER - 12 + payload.length) return undefined
  if (batch.readInt8(16) !== 2 || (batch.readInt16BE(21) & 0x07) !== type) return undefined
  const lastOffsetDelta = batch.readInt32BE(23)
  const count = batch.readInt32BE(57)
  if (count < 1 || count > lastOffsetDelta + 1) return undefined
  const marker = Buffer.from(UNDECODABLE_HEADER, 'utf8')
  const detail: UndecodableDetail = {
    codec: CODEC_NAMES[type] ?? String(type),
    error: (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 500),
  }
  const out = new ByteWriter(count * (marker.length + 12) + batch.length + 600)
  for (let i = 0; i < count; i++) {
    const last = i === count - 1
    const detailBytes = last ? Buffer.from(JSON.stringify(detail), 'utf8') : undefined
    const body = new ByteWriter(marker.length + 16 + (last ? batch.length + 600 : 0))
    body.byte(0) // record attributes
    body.varint(0) // timestamp delta
    body.varint(last ? lastOffsetDelta : i)
    body.varint(-1) // key: null
    if (last) body.bytes(batch)
    else body.varint(-1) // value: null
    body.varint(1) // one header
    body.bytes(marker)
    body.bytes(detailBytes ?? Buffer.alloc(0))
    const bytes = body.done()
    out.varint(bytes.length)
    out.raw(bytes)
  }
  return out.done()
}

/** Zigzag varints and length-prefixed bytes, as Kafka records encode them. */
class ByteWriter {
  private buffer: Buffer
  private at = 0
  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size)
  }
  private ensure(n: number): void {
    if (this.at + n <= this.buffer.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + n))
    this.buffer.copy(next, 0, 0, this.at)
    this.buffer = next
  }
  byte(value: number): void {
    this.ensure(1)
    this.buffer[this.at++] = value
  }
  varint(value: number): void {
    let zigzag = ((value << 1) ^ (value >> 31)) >>> 0
    this.ensure(5)
    while (zigzag >= 0x80) {
      this.buffer[this.at++] = (zigzag & 0x7f) | 0x80
      zigzag >>>= 7
    }
    this.buffer[this.at++] = zigzag
  }
  bytes(value: Buffer): void {
    this.varint(value.length)
    this.raw(value)
  }
  raw(value: Buffer): void {
    this.ensure(value.length)
    value.copy(this.buffer, this.at)
    this.at += value.length
  }
  done(): Buffer {
    return this.buffer.subarray(0, this.at)
  }
}
