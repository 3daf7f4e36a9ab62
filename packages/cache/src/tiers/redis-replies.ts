/**
 * Parsing of the tier's Redis replies, allocation-lean because an L2 hit runs through them: the
 * single-key read's MGET (entry, generation, tag versions as ASCII integers) and the read
 * script's reply (generation, requested versions, then per entry its bytes and its header tags'
 * versions).
 */

/** What a read returns: the generation, requested tag versions, and per key the bytes and their tags' versions. */
export interface ReadResult {
  generation: number
  requested: number[]
  entries: Array<{ bytes: Buffer | null; versions: number[] }>
}

/** The read script's reply (see redis-scripts.ts) for `count` entries. */
export function parseScriptRead(reply: unknown[], count: number): ReadResult {
  const entries: ReadResult['entries'] = new Array(count)
  for (let i = 0; i < count; i++) {
    const bytes = reply[2 + 2 * i]
    entries[i] = {
      bytes: Buffer.isBuffer(bytes) ? bytes : null,
      versions: (reply[3 + 2 * i] as number[] | undefined) ?? [],
    }
  }
  return { generation: Number(reply[0]), requested: (reply[1] as number[]) ?? [], entries }
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
