/**
 * Scan: every matching document in sort order, as an async iterator over a point in time and
 * `search_after` (the sort ends with the id field: a total order). The PIT is closed when the
 * iteration completes, when the consumer breaks out, and when a page fails (the generator's
 * `finally`). Each page re-reads the PIT id the engine answers with (it may change).
 */
import type { estypes } from '@elastic/elasticsearch'
import { toMs } from '../duration.js'
import type { ClientState } from '../engine/client-state.js'
import { timed } from '../engine/instrument.js'
import { checkCount, searchBody } from '../query/compile.js'
import { toResult } from '../query/result.js'
import type { DocOf, Hit, PageRequest } from '../query/types.js'
import type { IndexDefinition } from '../schema/definition-types.js'
import type { FieldMap } from '../schema/fields.js'
import { closePit, openPit } from './point-in-time.js'

/** Iterate every matching document (see `SearchClient.scan`). */
export async function* scan<F extends FieldMap>(
  state: ClientState,
  definition: IndexDefinition<F>,
  request: Omit<PageRequest<F>, 'cursor'>,
): AsyncGenerator<Hit<DocOf<F>>, void, undefined> {
  const size = checkCount(definition, 'size', request.size ?? 1_000)
  const keepAliveMs = toMs(request.keepAlive ?? '1m', 'keepAlive')
  const index = request.index ?? definition.name
  let pit = await openPit(state, index, keepAliveMs)
  try {
    let after: estypes.SortResults | undefined
    for (;;) {
      const body = searchBody(definition, { ...request, size, trackTotalHits: false }, true)
      body.pit = { id: pit, keep_alive: `${keepAliveMs}ms` }
      if (after) body.search_after = after
      const response = await timed(state, index, body, (client) =>
        client.search<DocOf<F>>(body as estypes.SearchRequest),
      )
      if (response.pit_id) pit = response.pit_id
      const { hits } = toResult<DocOf<F>, Record<never, never>>(response)
      for (const hit of hits) yield hit
      const last = hits.at(-1)
      if (hits.length < size || !last?.sort) return
      after = last.sort
    }
  } finally {
    await closePit(state, pit)
  }
}
