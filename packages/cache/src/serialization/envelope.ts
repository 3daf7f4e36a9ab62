/**
 * The L2 envelope: how an entry is laid out in Redis.
 *
 * ```
 * byte 0      0xAC magic
 * byte 1      format version (3)
 * bytes 2-3   tag count n (uint16, big-endian)
 * n times     uint16 length + UTF-8 tag suffix (`t:<tag>`): read by the Lua read script, which
 *             fetches those tags' versions in the same round trip
 * 1 byte      flags (bit 0: the payload is a cached `undefined`, and is absent)
 * 3 x f64     createdAt, freshUntil, staleUntil (ms since the epoch, big-endian doubles)
 * (n+1) x f64 versions: the generation, then one per tag
 * ...         payload: the codec's bytes of the value
 * last 4      CRC-32 (zlib's, big-endian) of every byte before it
 * ```
 *
 * Everything but the payload is fixed binary, read without the codec; the payload is decoded
 * once, with nothing wrapped around it. `versions` is the snapshot of the namespace generation
 * and of each tag's version taken BEFORE the loader ran. An entry is fresh only while every
 * version still equals the server's.
 *
 * The checksum is what makes "a miss, never another value" hold for bytes the cache did not
 * write as they are: without it, a flipped bit in the payload or a timestamp, a truncation at a
 * value boundary or another program's bytes that happen to start like an envelope decode into a
 * different value (seen with the property tests: one flipped bit turned -32769 into another
 * number). Any such entry fails the check, and is a miss plus a `corrupt` event; the loader's
 * value overwrites it. CRC-32 catches every burst of up to 32 flipped bits and all but 2^-32 of
 * the rest, for about 0.2 us per 600-byte entry on an L2 read (a round trip costs 70-100 us).
 *
 * Unknown magic or version bytes are "foreign" too: formats 1 (timestamps, versions and value in
 * one msgpack array) and 2 (this layout without the checksum) are such formats now, so entries
 * written before the upgrade are reloaded once and overwritten (while old and new instances run
 * side by side, each reloads the other's entries). Bytes 0-3 and the tag list keep their format-1
 * layout; the multi-key read takes the tags from there without decoding the body
 * ({@link envelopeTags}, tiers/redis-replies.ts).
 */
import { crc32 } from 'node:zlib'
import { type Codec, decodesRange } from './msgpack-codec.js'

/** Magic byte of every envelope. */
export const ENVELOPE_MAGIC = 0xac
/** Current format version. */
export const ENVELOPE_VERSION = 3

/** The header tags of an untagged entry, shared (never written to). */
const NO_TAGS: readonly string[] = Object.freeze([])

/** Bytes of the trailing CRC-32. */
const CHECKSUM_SIZE = 4

/** Flag: the payload is a cached `undefined` loader result. */
export const FLAG_UNDEFINED = 1

/** A decoded envelope. */
export interface Envelope {
  createdAt: number
  freshUntil: number
  staleUntil: number
  /** Tag suffixes (`t:<tag>`), in order. */
  tags: string[]
  /** [generation, ...one per tag] taken before the loader ran. */
  versions: number[]
  value: unknown
}

/** Why bytes could not be read as an envelope. */
export class EnvelopeFormatError extends Error {
  override readonly name = 'EnvelopeFormatError'
}

/** Encode an envelope to bytes. */
export function encodeEnvelope(codec: Codec, e: Envelope): Buffer {
  let headerSize = 4
  const tagBytes: Buffer[] = []
  for (const tag of e.tags) {
    const b = Buffer.from(tag, 'utf8')
    if (b.length > 0xffff) throw new EnvelopeFormatError('tag longer than 65535 bytes')
    tagBytes.push(b)
    headerSize += 2 + b.length
  }
  if (tagBytes.length > 0xffff) throw new EnvelopeFormatError('more than 65535 tags')
  if (e.versions.length !== tagBytes.length + 1)
    throw new EnvelopeFormatError('one version per tag, plus one')
  const body = e.value === undefined ? undefined : codec.encode(e.value)
  const fixedSize = 1 + 8 * (3 + e.versions.length)
  const out = Buffer.allocUnsafe(
    headerSize + fixedSize + (body === undefined ? 0 : body.length) + CHECKSUM_SIZE,
  )
  out[0] = ENVELOPE_MAGIC
  out[1] = ENVELOPE_VERSION
  out.writeUInt16BE(tagBytes.length, 2)
  let pos = 4
  for (const b of tagBytes) {
    out.writeUInt16BE(b.length, pos)
    b.copy(out, pos + 2)
    pos += 2 + b.length
  }
  out[pos++] = body === undefined ? FLAG_UNDEFINED : 0
  pos = out.writeDoubleBE(e.createdAt, pos)
  pos = out.writeDoubleBE(e.freshUntil, pos)
  pos = out.writeDoubleBE(e.staleUntil, pos)
  for (const v of e.versions) pos = out.writeDoubleBE(v, pos)
  if (body !== undefined) pos += body.copy(out, pos)
  out.writeUInt32BE(crc32(out.subarray(0, pos)), pos)
  return out
}

/** Decode bytes written by {@link encodeEnvelope}; throws {@link EnvelopeFormatError} or the codec's error. */
export function decodeEnvelope(codec: Codec, bytes: Buffer): Envelope {
  if (bytes.length < 5 || bytes[0] !== ENVELOPE_MAGIC)
    throw new EnvelopeFormatError('not an @ayala/cache entry')
  if (bytes[1] !== ENVELOPE_VERSION) throw new EnvelopeFormatError(`unknown envelope format ${bytes[1]}`)
  const end = bytes.length - CHECKSUM_SIZE
  if (end < 4 || crc32(bytes.subarray(0, end)) !== bytes.readUInt32BE(end))
    throw new EnvelopeFormatError('checksum mismatch (truncated or altered entry)')
  const n = bytes.readUInt16BE(2)
  const tags: string[] = new Array(n)
  let pos = 4
  for (let i = 0; i < n; i++) {
    if (pos + 2 > end) throw new EnvelopeFormatError('truncated header')
    const len = bytes.readUInt16BE(pos)
    if (pos + 2 + len > end) throw new EnvelopeFormatError('truncated header')
    tags[i] = bytes.toString('utf8', pos + 2, pos + 2 + len)
    pos += 2 + len
  }
  if (pos + 1 + 8 * (4 + n) > end) throw new EnvelopeFormatError('truncated header')
  const flags = bytes[pos++] as number
  const createdAt = bytes.readDoubleBE(pos)
  const freshUntil = bytes.readDoubleBE(pos + 8)
  const staleUntil = bytes.readDoubleBE(pos + 16)
  pos += 24
  const versions = new Array<number>(n + 1)
  for (let i = 0; i <= n; i++, pos += 8) versions[i] = bytes.readDoubleBE(pos)
  let value: unknown
  if ((flags & FLAG_UNDEFINED) === 0) {
    if (pos >= end) throw new EnvelopeFormatError('missing payload')
    value = decodesRange(codec) ? codec.decodeRange(bytes, pos, end) : codec.decode(bytes.subarray(pos, end))
  }
  return { createdAt, freshUntil, staleUntil, tags, versions, value }
}

/**
 * The tag suffixes in an envelope's header, without decoding the body (nor checking the
 * checksum: the decode that follows does); `undefined` if not an envelope.
 */
export function envelopeTags(bytes: Buffer): readonly string[] | undefined {
  if (bytes.length < 5 || bytes[0] !== ENVELOPE_MAGIC || bytes[1] !== ENVELOPE_VERSION) return undefined
  const end = bytes.length - CHECKSUM_SIZE
  const n = bytes.readUInt16BE(2)
  if (n === 0) return NO_TAGS
  const tags: string[] = new Array(n)
  let pos = 4
  for (let i = 0; i < n; i++) {
    if (pos + 2 > end) return undefined
    const len = bytes.readUInt16BE(pos)
    if (pos + 2 + len > end) return undefined
    tags[i] = bytes.toString('utf8', pos + 2, pos + 2 + len)
    pos += 2 + len
  }
  return tags
}
