/**
 * Deep pagination with cursors over a point in time and `search_after`. The first page (no
 * cursor) opens a point in time; each page continues with `search_after` from the cursor's
 * values; the last page (fewer hits than `size`) closes the PIT and returns `nextCursor: null`.
 * The sort always ends with the id field (`query/sort.ts`), so the order is total and pages
 * never overlap nor skip documents, whatever is written meanwhile.
 *
 * A cursor continues only the request it was issued for: it carries a shape hash of the index,
 * the sort and the query's value-free shape, and its `search_after` values are checked against
 * the sort's field kinds before any request (a null where the engine expects a number is a 500
 * on OpenSearch 2.19, not a refusal). A cursor the engine refuses (its PIT expired or closed, its
 * values of the wrong type) is `E_SEARCH_INVALID_CURSOR`, not an engine error. A first page that
 * fails closes the PIT it opened.
 */
import { createHash } from 'node:crypto'
import type { estypes } from '@elastic/elasticsearch'
import { toMs } from '../duration.js'
import type { ClientState } from '../engine/client-state.js'
import { timed } from '../engine/instrument.js'
import { SearchError } from '../errors.js'
import { queryShape } from '../observability/fingerprint.js'
import { checkCount, searchBody } from '../query/compile.js'
import { toResult } from '../query/result.js'
import { afterFitsSort } from '../query/sort.js'
import type { DocOf, Page, PageRequest } from '../query/types.js'
import type { IndexDefinition } from '../schema/definition-types.js'
import type { FieldMap } from '../schema/fields.js'
import { decodeCursor, encodeCursor } from './cursor.js'
import { closePit, openPit } from './point-in-time.js'

/** One page (see `SearchClient.searchPage`). */
export async function searchPage<F extends FieldMap>(
  state: ClientState,
  definition: IndexDefinition<F>,
  request: PageRequest<F>,
): Promise<Page<DocOf<F>>> {
  const size = checkCount(definition, 'size', request.size ?? 100)
  if (size === 0) throw new SearchError('E_SEARCH_INVALID_VALUE', 'Page size must be at least 1')
  let pit: string
  let after: unknown[] | undefined
  let keepAliveMs: number
  const index = request.index ?? definition.name
  // A cursor continues only the request it was issued for: another sort or index would make its
  // search_after values meaningless (or rejected by the engine).
  const body = searchBody(definition, { ...request, size, trackTotalHits: false }, true)
  const shape = createHash('sha1')
    .update(`${index}\n${JSON.stringify(body.sort)}\n${queryShape(body.query)}`)
    .digest('base64url')
    .slice(0, 16)
  if (request.cursor !== undefined) {
    const cursor = decodeCursor(request.cursor)
    if (cursor.shape !== shape || cursor.index !== index) {
      throw new SearchError(
        'E_SEARCH_INVALID_CURSOR',
        'Pagination cursor was issued for a different index, query shape or sort',
        { index },
      )
    }
    if (!afterFitsSort(definition, body.sort as estypes.SortCombinations[], cursor.after)) {
      // Sent as is, a null where the engine expects a number is a 500 (a NullPointerException
      // on OpenSearch 2.19), not a refusal: check the values against the sort's field kinds.
      throw new SearchError(
        'E_SEARCH_INVALID_CURSOR',
        "Pagination cursor's search_after values do not fit the request's sort",
        { index },
      )
    }
    pit = cursor.pit
    after = cursor.after
    keepAliveMs = cursor.keepAliveMs
  } else {
    keepAliveMs = toMs(request.keepAlive ?? '1m', 'keepAlive')
    pit = await openPit(state, index, keepAliveMs)
  }
  body.pit = { id: pit, keep_alive: `${keepAliveMs}ms` }
  if (after) body.search_after = after
  let response: estypes.SearchResponse<DocOf<F>>
  try {
    response = await timed(state, index, body, (client) =>
      client.search<DocOf<F>>(body as estypes.SearchRequest),
    )
  } catch (error) {
    if (request.cursor === undefined) {
      try {
        await closePit(state, pit)
      } catch (closeError) {
        throw new SearchError('E_SEARCH_ENGINE', 'Search failed and its point in time could not be closed', {
          index,
          cause: new AggregateError([error, closeError]),
        })
      }
    }
    // The engine refused what only the cursor brings (its point in time: expired, closed or
    // altered; its search_after values: of the wrong type or count for the sort): the cursor
    // is what is invalid, not the request.
    if (
      request.cursor !== undefined &&
      error instanceof SearchError &&
      error.code === 'E_SEARCH_ENGINE' &&
      (error.status === 400 || error.status === 404)
    ) {
      throw new SearchError(
        'E_SEARCH_INVALID_CURSOR',
        `Pagination cursor refused by the engine (its point in time expired, was closed or is unknown, or its search_after values do not fit the sort): ${error.message}`,
        { index, status: error.status, cause: error },
      )
    }
    throw error
  }
  const result = toResult<DocOf<F>, Record<never, never>>(response)
  const nextPit = response.pit_id ?? pit
  const last = result.hits.at(-1)
  if (result.hits.length < size || !last?.sort) {
    await closePit(state, nextPit)
    return { hits: result.hits, nextCursor: null }
  }
  return {
    hits: result.hits,
    nextCursor: encodeCursor({
      index,
      pit: nextPit,
      after: last.sort as Array<string | number | boolean | null>,
      keepAliveMs,
      shape,
    }),
  }
}
