/**
 * Parsing of the tier's Redis replies, allocation-lean because an L2 hit runs through them: the
 * single-key read's MGET (entry, generation, tag versions as ASCII integers) and the multi-key
 * read's MGET (entries, generation, requested tag versions), whose entries' header tags are then
 * matched with the versions read ({@link parseManyRead}) or, for tags nobody named, with those of
 * one more MGET ({@link completeRead}).
 */
import { envelopeTags } from '../serialization/envelope.js'

/** What a read returns: the generation, requested tag versions, and per key the bytes and their tags' versions. */
export interface ReadResult {
  generation: number
  requested: number[]
  entries: Array<{ bytes: Buffer | null; versions: number[] }>
}

/**
 * A multi-key read's first reply, and the header tags it did not cover: `missing` (tag suffixes,
 * each once) and, per slot to fill, the entry, the position in its versions and the index in
 * `missing`, flat (`fill`, three numbers per slot).
 */
export interface PartialRead {
  result: ReadResult
  missing: string[]
  fill: number[]
}

/** The versions of an entry without header tags (never written to). */
const NO_VERSIONS = Object.freeze([]) as unknown as number[]

/**
 * The multi-key read's MGET reply: `count` entries, the generation, then the versions of
 * `requestedTags`. Each entry's header tags (read without decoding the body) take the versions
 * of the same requested tags; the others are listed in `missing` for {@link completeRead}.
 */
export function parseManyRead(
  reply: ReadonlyArray<Buffer | null>,
  count: number,
  requestedTags: readonly string[],
): PartialRead {
  const requested = new Array<number>(requestedTags.length)
  for (let i = 0; i < requested.length; i++) requested[i] = parseVersion(reply[count + 1 + i])
  const entries: ReadResult['entries'] = new Array(count)
  const missing: string[] = []
  const fill: number[] = []
  let unknown: Map<string, number> | undefined
  for (let j = 0; j < count; j++) {
    const bytes = reply[j] ?? null
    const tags = bytes === null ? undefined : envelopeTags(bytes)
    if (tags === undefined || tags.length === 0) {
      entries[j] = { bytes, versions: NO_VERSIONS }
      continue
    }
    const versions = new Array<number>(tags.length)
    for (let t = 0; t < tags.length; t++) {
      const tag = tags[t] as string
      const at = requestedTags.indexOf(tag)
      if (at >= 0) {
        versions[t] = requested[at] as number
        continue
      }
      versions[t] = 0
      unknown ??= new Map()
      let index = unknown.get(tag)
      if (index === undefined) {
        index = missing.length
        missing.push(tag)
        unknown.set(tag, index)
      }
      fill.push(j, t, index)
    }
    entries[j] = { bytes, versions }
  }
  return { result: { generation: parseVersion(reply[count]), requested, entries }, missing, fill }
}

/** Fill a {@link PartialRead}'s missing versions from the MGET reply of its `missing` tag keys. */
export function completeRead(partial: PartialRead, reply: ReadonlyArray<Buffer | null>): ReadResult {
  const { result, fill } = partial
  for (let k = 0; k < fill.length; k += 3) {
    const versions = (result.entries[fill[k] as number] as ReadResult['entries'][number]).versions
    versions[fill[k + 1] as number] = parseVersion(reply[fill[k + 2] as number])
  }
  return result
}

/** An MGET reply of entry, generation and tag versions. */
export function parseRead(reply: Array<Buffer | null>): {
  bytes: Buffer | null
  generation: number
  requested: number[]
} {
  const requested = new Array<number>(Math.max(0, reply.length - 2))
  for (let i = 0; i < requested.length; i++) requested[i] = parseVersion(reply[i + 2])
  return { bytes: reply[0] ?? null, generation: parseVersion(reply[1]), requested }
}

/** ioredis rejects a command that outlived `commandTimeout` with this message. */
export function isCommandTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Command timed out'
}

/** A version counter as Redis returns it (ASCII decimal integer), 0 when absent. */
export function parseVersion(bytes: Buffer | null | undefined): number {
  if (bytes === null || bytes === undefined) return 0
  const n = bytes.length
  let i = 0
  let negative = false
  if (n > 0 && bytes[0] === 0x2d) {
    negative = true
    i = 1
  }
  if (i === n || n > 16) return Number(bytes.toString('latin1'))
  let value = 0
  for (; i < n; i++) {
    const d = (bytes[i] as number) - 0x30
    if (d < 0 || d > 9) return Number(bytes.toString('latin1'))
    value = value * 10 + d
  }
  return negative ? -value : value
}
