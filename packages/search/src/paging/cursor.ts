/**
 * Opaque pagination cursors: base64url of a CRC-32 (4 bytes, big-endian) followed by a small
 * versioned JSON object holding the point in time id, the `search_after` values of the last hit
 * and the keep-alive. Decoding checks that the text is canonical base64url (no trailing bits a
 * decoder would drop, so an appended character is an edit too), then the checksum, then every
 * field: a truncated, edited or foreign cursor fails with `E_SEARCH_INVALID_CURSOR` before any
 * request reaches the engine. Without the checksum, one edited character could change a
 * `search_after` digit and silently skip or repeat documents (found by the property tests).
 *
 * Cursors are not signed: they carry no secret, and a cursor rebuilt around other state (with
 * {@link encodeCursor}) is checked by the engine, whose refusal of its point in time or its
 * `search_after` values `searchPage` reports as `E_SEARCH_INVALID_CURSOR` too. Do not put
 * authorization decisions in them.
 */
import { crc32 } from 'node:zlib'
import { SearchError } from '../errors.js'

/** Current cursor format version (2: with the checksum; cursors of version 1 are refused). */
export const CURSOR_VERSION = 2

/** What a cursor carries. */
export interface CursorState {
  /** Index (or alias) the PIT was opened on. */
  index: string
  /** Point-in-time id. */
  pit: string
  /** `search_after` values of the last returned hit. */
  after: Array<string | number | boolean | null>
  /** PIT keep-alive in ms. */
  keepAliveMs: number
  /** Fingerprint of the request shape (index, query/filter fields, sort) the cursor belongs to. */
  shape: string
}

/** Encode a cursor. */
export function encodeCursor(state: CursorState): string {
  const json = Buffer.from(
    JSON.stringify({
      v: CURSOR_VERSION,
      i: state.index,
      p: state.pit,
      a: state.after,
      k: state.keepAliveMs,
      s: state.shape,
    }),
  )
  const out = Buffer.allocUnsafe(4 + json.length)
  out.writeUInt32BE(crc32(json), 0)
  json.copy(out, 4)
  return out.toString('base64url')
}

function invalid(reason: string): SearchError {
  return new SearchError('E_SEARCH_INVALID_CURSOR', `Malformed pagination cursor: ${reason}`)
}

/** Decode and validate a cursor. @throws SearchError `E_SEARCH_INVALID_CURSOR` */
export function decodeCursor(cursor: unknown, maxLength = 16_384): CursorState {
  if (typeof cursor !== 'string' || cursor.length === 0) throw invalid('not a non-empty string')
  if (cursor.length > maxLength) throw invalid(`longer than ${maxLength} characters`)
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid('not base64url')
  const bytes = Buffer.from(cursor, 'base64url')
  if (bytes.toString('base64url') !== cursor) throw invalid('not canonical base64url')
  if (bytes.length < 5 || crc32(bytes.subarray(4)) !== bytes.readUInt32BE(0)) {
    throw invalid('checksum mismatch (truncated or edited)')
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(bytes.toString('utf8', 4))
  } catch (error) {
    throw new SearchError('E_SEARCH_INVALID_CURSOR', 'Malformed pagination cursor: not JSON', {
      cause: error,
    })
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid('not an object')
  const { v, i, p, a, k, s } = parsed as Record<string, unknown>
  if (v !== CURSOR_VERSION) throw invalid(`unsupported version ${String(v)} (expected ${CURSOR_VERSION})`)
  if (typeof i !== 'string' || i.length === 0) throw invalid('missing index')
  if (typeof p !== 'string' || p.length === 0) throw invalid('missing point in time')
  if (
    !Array.isArray(a) ||
    a.length === 0 ||
    !a.every((x) => x === null || typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')
  )
    throw invalid('bad search_after values')
  if (typeof k !== 'number' || !Number.isFinite(k) || k <= 0) throw invalid('bad keep-alive')
  if (typeof s !== 'string' || s.length === 0) throw invalid('missing request shape')
  return { index: i, pit: p, after: a, keepAliveMs: k, shape: s }
}
