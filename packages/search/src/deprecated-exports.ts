/**
 * Internals that `index.ts` exported by mistake (issue 15): the cursor codec and format version
 * of `searchPage`, the latency record behind `client.latency()` and the query shape a cursor is
 * bound to. Nothing outside this package used them; they stay exported, deprecated, until the
 * next major version. Each is its own declaration (not an `export { x } from` re-export) so the
 * `@deprecated` tag survives into the bundled `index.d.ts` and shows in editors.
 */
import { queryShape as internalQueryShape } from './observability/fingerprint.js'
import { LatencyHistogram as InternalLatencyHistogram } from './observability/latency-histogram.js'
import {
  CURSOR_VERSION as INTERNAL_CURSOR_VERSION,
  decodeCursor as internalDecodeCursor,
  encodeCursor as internalEncodeCursor,
} from './paging/cursor.js'

/**
 * @deprecated Internal: the version of the `searchPage` cursor format. Not part of the public
 * API; removed from the exports in the next major version.
 */
export const CURSOR_VERSION: typeof INTERNAL_CURSOR_VERSION = INTERNAL_CURSOR_VERSION

/**
 * @deprecated Internal: how `searchPage` reads its cursors (pass cursors back to `searchPage`
 * instead). Not part of the public API; removed from the exports in the next major version.
 */
export const decodeCursor: typeof internalDecodeCursor = internalDecodeCursor

/**
 * @deprecated Internal: how `searchPage` writes its cursors. Not part of the public API; removed
 * from the exports in the next major version.
 */
export const encodeCursor: typeof internalEncodeCursor = internalEncodeCursor

/**
 * @deprecated Internal: the query shape a `searchPage` cursor is bound to (use
 * `queryFingerprint` to group queries). Not part of the public API; removed from the exports in
 * the next major version.
 */
export const queryShape: typeof internalQueryShape = internalQueryShape

/**
 * @deprecated Internal: the client's latency record (read it with `client.latency()`). Not part
 * of the public API; removed from the exports in the next major version.
 */
export const LatencyHistogram: typeof InternalLatencyHistogram = InternalLatencyHistogram

/** @deprecated Internal: the type of {@link LatencyHistogram}; removed in the next major version. */
export type LatencyHistogram = InternalLatencyHistogram
