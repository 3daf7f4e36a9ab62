/**
 * The L2 envelope: how an entry is laid out in Redis.
 *
 * ```
 * byte 0      0xAC magic
 * byte 1      format version (1)
 * bytes 2-3   tag count n (uint16, big-endian)
 * n times     uint16 length + UTF-8 tag suffix (`t:<tag>`): read by the Lua read script, which
 *             fetches those tags' versions in the same round trip
 * rest        codec body: [createdAt, freshUntil, staleUntil, versions, flags, payload]
 * ```
 *
 * `versions` is the snapshot of the namespace generation and of each tag's version taken BEFORE
 * the loader ran. An entry is fresh only while every version still equals the server's. The
 * header is versioned so a later deploy can add a format 2 and still read format 1; unknown magic
 * or version bytes are "foreign" and read as a miss.
 */
import type { Codec } from './msgpack-codec.js'

/** Magic byte of every envelope. */
export const ENVELOPE_MAGIC = 0xac
/** Current format version. */
export const ENVELOPE_VERSION = 1

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
  const body = codec.encode([
    e.createdAt,
    e.freshUntil,
    e.staleUntil,
    e.versions,
    e.value === undefined ? FLAG_UNDEFINED : 0,
    e.value === undefined ? null : e.value,
  ])
  const out = Buffer.allocUnsafe(headerSize + body.length)
  out[0] = ENVELOPE_MAGIC
  out[1] = ENVELOPE_VERSION
  out.writeUInt16BE(tagBytes.length, 2)
  let pos = 4
  for (const b of tagBytes) {
    out.writeUInt16BE(b.length, pos)
    b.copy(out, pos + 2)
    pos += 2 + b.length
  }
  body.copy(out, pos)
  return out
}

/** Decode bytes written by {@link encodeEnvelope}; throws {@link EnvelopeFormatError} or the codec's error. */
export function decodeEnvelope(codec: Codec, bytes: Buffer): Envelope {
  if (bytes.length < 5 || bytes[0] !== ENVELOPE_MAGIC)
    throw new EnvelopeFormatError('not an @ayala/cache entry')
  if (bytes[1] !== ENVELOPE_VERSION) throw new EnvelopeFormatError(`unknown envelope format ${bytes[1]}`)
  const n = bytes.readUInt16BE(2)
  const tags: string[] = new Array(n)
  let pos = 4
  for (let i = 0; i < n; i++) {
    if (pos + 2 > bytes.length) throw new EnvelopeFormatError('truncated header')
    const len = bytes.readUInt16BE(pos)
    if (pos + 2 + len > bytes.length) throw new EnvelopeFormatError('truncated header')
    tags[i] = bytes.toString('utf8', pos + 2, pos + 2 + len)
    pos += 2 + len
  }
  const body = codec.decode(bytes.subarray(pos))
  if (!Array.isArray(body) || body.length !== 6) throw new EnvelopeFormatError('malformed body')
  const [createdAt, freshUntil, staleUntil, versions, flags, payload] = body as [
    unknown,
    unknown,
    unknown,
    unknown,
    unknown,
    unknown,
  ]
  if (
    typeof createdAt !== 'number' ||
    typeof freshUntil !== 'number' ||
    typeof staleUntil !== 'number' ||
    typeof flags !== 'number' ||
    !Array.isArray(versions) ||
    versions.length !== n + 1 ||
    !versions.every((v) => typeof v === 'number')
  ) {
    throw new EnvelopeFormatError('malformed body')
  }
  return {
    createdAt,
    freshUntil,
    staleUntil,
    tags,
    versions: versions as number[],
    value: flags & FLAG_UNDEFINED ? undefined : payload,
  }
}

/** The tag suffixes in an envelope's header, without decoding the body; `undefined` if not an envelope. */
export function envelopeTags(bytes: Buffer): string[] | undefined {
  if (bytes.length < 5 || bytes[0] !== ENVELOPE_MAGIC || bytes[1] !== ENVELOPE_VERSION) return undefined
  const n = bytes.readUInt16BE(2)
  const tags: string[] = new Array(n)
  let pos = 4
  for (let i = 0; i < n; i++) {
    if (pos + 2 > bytes.length) return undefined
    const len = bytes.readUInt16BE(pos)
    if (pos + 2 + len > bytes.length) return undefined
    tags[i] = bytes.toString('utf8', pos + 2, pos + 2 + len)
    pos += 2 + len
  }
  return tags
}
