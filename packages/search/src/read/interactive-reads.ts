/**
 * The interactive reads, `search`, `get` and `suggest`: each compiles and checks its request
 * (`query/`), runs it as a bounded read (`bounded-read.ts`: a budget, the breaker) and maps the
 * answer; `search` and `get` fall back (`fallback.ts`) when the engine cannot answer, and their
 * results then say `degraded`.
 */
import type { estypes } from '@elastic/elasticsearch'
import type { Duration } from '../duration.js'
import type { ClientState } from '../engine/client-state.js'
import { engineError } from '../engine/engine-error.js'
import { SearchError } from '../errors.js'
import { searchBody } from '../query/compile.js'
import { toResult } from '../query/result.js'
import type {
  AggMap,
  DocOf,
  GetFallback,
  GetOptions,
  GetResult,
  SearchFallback,
  SearchRequest,
  SearchResult,
} from '../query/types.js'
import type { CompletionFields, IndexDefinition } from '../schema/definition-types.js'
import type { FieldMap } from '../schema/fields.js'
import { boundedRead } from './bounded-read.js'
import { degradation, fallBack } from './fallback.js'

/** Options of `suggest`. */
export interface SuggestOptions {
  /** Suggestions returned. @default 10 */
  size?: number | undefined
  /** Index or alias. @default definition.name */
  index?: string | undefined
  /** This call's budget. @default the client's `searchTimeout` */
  timeout?: Duration | undefined
}

/** A typed search (see `SearchClient.search`). */
export async function search<F extends FieldMap, A extends AggMap<F>>(
  state: ClientState,
  definition: IndexDefinition<F>,
  request: SearchRequest<F, A>,
): Promise<SearchResult<DocOf<F>, A>> {
  const index = request.index ?? definition.name
  const body = searchBody(definition, request as SearchRequest<F, AggMap<F>>, false)
  try {
    const response = await boundedRead(state, 'search', index, body, request.timeout, (client, options) =>
      client.search<DocOf<F>>({ index, ...(body as estypes.SearchRequest) }, options),
    )
    return toResult<DocOf<F>, A>(response)
  } catch (error) {
    const fallback = (request.fallback ?? state.fallback.search) as SearchFallback<DocOf<F>, A> | undefined
    return fallBack(
      state,
      'search',
      index,
      error,
      fallback &&
        (async (failure: SearchError) => {
          const answer = await fallback(failure, { index, request: request as SearchRequest<any, any> })
          return {
            total: answer.total,
            took: 0,
            hits: answer.hits,
            aggregations: (answer.aggregations ?? {}) as SearchResult<DocOf<F>, A>['aggregations'],
            degraded: degradation(failure),
          }
        }),
    )
  }
}

/** One document by id, or `null` (see `SearchClient.get`). */
export async function get<F extends FieldMap>(
  state: ClientState,
  definition: IndexDefinition<F>,
  id: string,
  options: GetOptions<DocOf<F>>,
): Promise<GetResult<DocOf<F>> | null> {
  if (typeof id !== 'string' || id.length === 0 || id.length > 512) {
    throw new SearchError('E_SEARCH_INVALID_VALUE', 'Document id must be a string of 1 to 512 characters', {
      index: definition.name,
    })
  }
  const index = options.index ?? definition.name
  try {
    const response = await boundedRead(
      state,
      'get',
      index,
      { get: '?' },
      options.timeout,
      async (client, transport) => {
        try {
          return await client.get<DocOf<F>>({ index, id }, transport)
        } catch (error) {
          // A missing document is an answer (404 with `found: false`); a missing index is not.
          const body = (error as { body?: { found?: unknown } }).body
          if (engineError(error).status === 404 && body?.found === false) return null
          throw error
        }
      },
    )
    return response?.found && response._source !== undefined
      ? { id: response._id, source: response._source }
      : null
  } catch (error) {
    const fallback = (options.fallback ?? state.fallback.get) as GetFallback<DocOf<F>> | undefined
    return fallBack(
      state,
      'get',
      index,
      error,
      fallback &&
        (async (failure: SearchError) => {
          const source = await fallback(failure, { index, id })
          return source === null ? null : { id, source, degraded: degradation(failure) }
        }),
    )
  }
}

/** Completion-suggester type-ahead (see `SearchClient.suggest`). */
export async function suggest<F extends FieldMap>(
  state: ClientState,
  definition: IndexDefinition<F>,
  field: CompletionFields<F>,
  prefix: string,
  options: SuggestOptions,
): Promise<Array<{ text: string; id: string }>> {
  const def = definition.fieldDef(field)
  if (def.kind !== 'autocomplete' || def.strategy !== 'completion') {
    throw new SearchError(
      'E_SEARCH_FIELD_KIND',
      `suggest needs a completion autocomplete field; "${field}" is not`,
      {
        index: definition.name,
        field,
      },
    )
  }
  if (typeof prefix !== 'string' || prefix.length > definition.maxQueryLength) {
    throw new SearchError('E_SEARCH_QUERY_TOO_LONG', `Prefix for "${field}" is too long or not a string`, {
      index: definition.name,
      field,
    })
  }
  const index = options.index ?? definition.name
  const body = {
    _source: false,
    suggest: { s: { prefix, completion: { field, size: options.size ?? 10, skip_duplicates: true } } },
  }
  const response = await boundedRead(state, 'suggest', index, body, options.timeout, (client, transport) =>
    client.search({ index, ...body }, transport),
  )
  const entries = (response.suggest?.s ?? []) as Array<{ options: Array<{ text: string; _id?: string }> }>
  return entries.flatMap((entry) =>
    entry.options.map((option) => ({ text: option.text, id: option._id ?? '' })),
  )
}
