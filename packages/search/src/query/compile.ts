/**
 * Query compilation: a typed {@link SearchRequest} becomes the engine's request body, checked
 * against the index definition before anything is sent. Filters join the query in a `bool`
 * (`must` + `filter`, so filters do not score); sizes are integers in 0..10000; sort, highlight
 * and aggregation fields must be declared and of a kind that supports them (`sort.ts`,
 * `aggregations.ts`, highlighting text fields only), so a field name from a URL cannot reach the
 * engine unchecked. The same compilation serves `search`, `searchPage` and `scan` (which ask
 * for the tiebreak that makes the order total, as `searchAfter` does).
 */
import type { estypes } from '@elastic/elasticsearch'
import { SearchError } from '../errors.js'
import type { IndexDefinition, Query } from '../schema/definition-types.js'
import type { FieldMap } from '../schema/fields.js'
import { checkAggs } from './aggregations.js'
import { afterFitsSort, sortClause } from './sort.js'
import type { AggMap, SearchRequest } from './types.js'

function asList<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return []
  return Array.isArray(value) ? [...(value as T[])] : [value as T]
}

/** The body of a search for `request` (`tiebreak`: end the sort with the id field). */
export function searchBody<F extends FieldMap>(
  definition: IndexDefinition<F>,
  request: SearchRequest<F, AggMap<F>>,
  tiebreak: boolean,
): Record<string, unknown> {
  const filters = asList(request.filter)
  const query: Query | undefined =
    filters.length > 0
      ? { bool: { ...(request.query ? { must: [request.query] } : {}), filter: filters } }
      : request.query
  const body: Record<string, unknown> = {}
  if (query) body.query = query
  const after = request.searchAfter
  const sort = sortClause(definition, request.sort, tiebreak || after !== undefined)
  if (sort) body.sort = sort
  if (after !== undefined) {
    const invalid = (why: string) =>
      new SearchError('E_SEARCH_INVALID_VALUE', `searchAfter ${why}`, { index: definition.name })
    if (request.sort === undefined || request.sort.length === 0) throw invalid('needs a sort')
    if (request.from !== undefined && request.from !== 0) throw invalid('cannot be combined with from')
    const clauses = sort as estypes.SortCombinations[]
    if (
      !Array.isArray(after) ||
      after.length !== clauses.length ||
      !afterFitsSort(definition, clauses, after)
    ) {
      throw invalid("values do not fit the request's sort (one per key: give the last hit's sort)")
    }
    body.search_after = [...after]
  }
  if (request.size !== undefined) body.size = checkCount(definition, 'size', request.size)
  if (request.from !== undefined) body.from = checkCount(definition, 'from', request.from)
  if (request.trackTotalHits !== undefined) body.track_total_hits = request.trackTotalHits
  if (request.highlight) body.highlight = highlightClause(definition, request.highlight)
  if (request.aggs) {
    checkAggs(definition, request.aggs)
    body.aggs = request.aggs
  }
  return body
}

/** `value` when it is an integer in 0..10000 (`size`, `from`). */
export function checkCount<F extends FieldMap>(
  definition: IndexDefinition<F>,
  name: string,
  value: unknown,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 10_000) {
    throw new SearchError(
      'E_SEARCH_INVALID_VALUE',
      `${name} must be an integer between 0 and 10000, got ${String(value)}`,
      {
        index: definition.name,
      },
    )
  }
  return value
}

function highlightClause<F extends FieldMap>(
  definition: IndexDefinition<F>,
  spec: NonNullable<SearchRequest<F>['highlight']>,
): estypes.SearchHighlight {
  const options = Array.isArray(spec)
    ? { fields: spec as readonly string[] }
    : (spec as Exclude<typeof spec, readonly string[]>)
  const fields: Record<string, estypes.SearchHighlightField> = {}
  for (const name of options.fields as readonly string[]) {
    const def = definition.fieldDef(name)
    if (def.kind !== 'text') {
      throw new SearchError(
        'E_SEARCH_FIELD_KIND',
        `Highlighting needs a text field; "${name}" is ${def.kind}`,
        {
          index: definition.name,
          field: name,
        },
      )
    }
    fields[name] = {}
  }
  const o = options as {
    preTag?: string
    postTag?: string
    fragmentSize?: number
    numberOfFragments?: number
  }
  return {
    fields,
    pre_tags: [o.preTag ?? '<em>'],
    post_tags: [o.postTag ?? '</em>'],
    fragment_size: o.fragmentSize ?? 150,
    number_of_fragments: o.numberOfFragments ?? 3,
  }
}
