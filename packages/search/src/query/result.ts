/**
 * Result mapping: the engine's search response becomes a typed {@link SearchResult} (`total`
 * always `{ value, relation }` when counted, hits with id, score, source, highlight and sort
 * values, aggregations as answered).
 */
import type { estypes } from '@elastic/elasticsearch'
import type { SearchResult } from './types.js'

/** The typed result of a search response. */
export function toResult<D, A>(response: estypes.SearchResponse<D>): SearchResult<D, A> {
  const total = response.hits.total
  return {
    total:
      total === undefined ? undefined : typeof total === 'number' ? { value: total, relation: 'eq' } : total,
    took: response.took,
    hits: response.hits.hits.map((hit) => ({
      id: hit._id as string,
      score: hit._score ?? null,
      source: hit._source as D,
      highlight: hit.highlight,
      sort: hit.sort,
    })),
    aggregations: (response.aggregations ?? {}) as SearchResult<D, A>['aggregations'],
  }
}
