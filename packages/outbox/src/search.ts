/**
 * `@ayala/outbox/search`: the search sink. It applies recorded `indexEffect` changes with
 * `@ayala/search`'s `applyIndexEvents` (one bulk request, external versions), which draws the line
 * between a refusal that passes and one that does not:
 *
 * - applied, or stale (the index already holds this version or a newer one): done;
 * - a write block (`index.blocks.write`, flood stage), 429, 5xx, an index being recreated: retry
 *   with backoff, for as long as `maxAge` allows (a blocked index no longer dead-letters every event
 *   in half a second);
 * - a mapping or parse error: a dead letter, shown with the engine's reason.
 *
 * An engine that cannot be reached fails the whole batch (retried). Optional entry: it loads
 * `@ayala/search`, which the core of `@ayala/outbox` never imports.
 */
import { applyIndexEvents, type SearchClient } from '@ayala/search'
import type { IndexEffectPayload } from './effects.js'
import { OutboxError } from './errors.js'
import { rejectUnknownKeys } from './option-keys.js'
import { DELIVERED, type DeliveryOutcome, type OutboxSink } from './sinks/sink.js'

export type { IndexEffectPayload } from './effects.js'
export { indexEffect } from './effects.js'

/** Options of {@link searchSink}. */
export interface SearchSinkOptions {
  /** The `@ayala/search` client of the engine holding the indexes. */
  search: SearchClient
}

const SEARCH_SINK_KEYS: ReadonlySet<string> = new Set(['search'])

/**
 * A sink applying `indexEffect` changes to Elasticsearch or OpenSearch.
 *
 * @throws OutboxError `E_OUTBOX_INVALID_OPTION` for an unknown option or a missing `search` client
 */
export function searchSink(options: SearchSinkOptions): OutboxSink<IndexEffectPayload> {
  rejectUnknownKeys(options, SEARCH_SINK_KEYS, 'searchSink')
  const { search } = options
  if (search === null || typeof search !== 'object') {
    throw new OutboxError('E_OUTBOX_INVALID_OPTION', 'searchSink: search must be an @ayala/search client', {
      sink: 'search',
    })
  }
  return {
    async deliver(items): Promise<readonly DeliveryOutcome[]> {
      const results = await applyIndexEvents(
        search,
        items.map((item) => item.payload),
      )
      return results.map((result): DeliveryOutcome => {
        if (result.status === 'applied' || result.status === 'stale') return DELIVERED
        const error = result.error ?? result.status
        return result.status === 'retry' ? { status: 'retry', error } : { status: 'rejected', error }
      })
    },
  }
}
