/**
 * Opaque pagination cursors: base64url of a small versioned JSON object holding the point in time
 * id, the `search_after` values of the last hit and the keep-alive. Decoding validates every
 * field, so a truncated, edited or foreign cursor fails with `E_SEARCH_INVALID_CURSOR` before
 * any request reaches the engine. Cursors are not signed: they carry no secret and the engine
 * re-checks the PIT id; do not put authorization decisions in them.
 */
import { SearchError } from '../errors.js'

/** Current cursor format version. */
export const CURSOR_VERSION = 1

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
  return Buffer.from(
    JSON.stringify({
      v: CURSOR_VERSION,
      i: state.index,
      p: state.pit,
      a: state.after,
      k: state.keepAliveMs,
      s: state.shape,
    }),
  ).toString('base64url')
}

function invalid(reason: string): SearchError {
  return new SearchError('E_SEARCH_INVALID_CURSOR', `Malformed pagination cursor: ${reason}`)
}

/** Decode and validate a cursor. @throws SearchError `E_SEARCH_INVALID_CURSOR` */
export function decodeCursor(cursor: unknown, maxLength = 16_384): CursorState {
  if (typeof cursor !== 'string' || cursor.length === 0) throw invalid('not a non-empty string')
  if (cursor.length > maxLength) throw invalid(`longer than ${maxLength} characters`)
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid('not base64url')
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
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
