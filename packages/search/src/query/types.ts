/**
 * Request and result types of typed searches. Aggregation results are computed from the request
 * object itself (a `terms` request yields buckets, a `sum` a value, sub-aggregations nest), using
 * the official client's `estypes` for the request side so the DSL is never redeclared.
 */
import type { estypes } from '@elastic/elasticsearch'
import type { Duration } from '../duration.js'
import type { SearchError, SearchUnavailableReason } from '../errors.js'
import type {
  DateFields,
  DocumentOfFields,
  NumericFields,
  Query,
  SortableFields,
  TextFields,
} from '../schema/definition-types.js'
import type { FieldMap } from '../schema/fields.js'

type WithField<T, N extends string> = Omit<T, 'field'> & { field: N }

/** Aggregation requests accepted by typed searches, with `field` narrowed to suitable fields. */
export type AggRequest<F extends FieldMap> =
  | { terms: WithField<estypes.AggregationsTermsAggregation, SortableFields<F>>; aggs?: AggMap<F> }
  | {
      date_histogram: WithField<estypes.AggregationsDateHistogramAggregation, DateFields<F>>
      aggs?: AggMap<F>
    }
  | { histogram: WithField<estypes.AggregationsHistogramAggregation, NumericFields<F>>; aggs?: AggMap<F> }
  | { range: WithField<estypes.AggregationsRangeAggregation, NumericFields<F>>; aggs?: AggMap<F> }
  | { filter: Query; aggs?: AggMap<F> }
  | { sum: WithField<estypes.AggregationsSumAggregation, NumericFields<F>> }
  | { avg: WithField<estypes.AggregationsAverageAggregation, NumericFields<F>> }
  | { min: WithField<estypes.AggregationsMinAggregation, NumericFields<F> | DateFields<F>> }
  | { max: WithField<estypes.AggregationsMaxAggregation, NumericFields<F> | DateFields<F>> }
  | { value_count: WithField<estypes.AggregationsValueCountAggregation, SortableFields<F>> }
  | { cardinality: WithField<estypes.AggregationsCardinalityAggregation, SortableFields<F>> }
  | { stats: WithField<estypes.AggregationsStatsAggregation, NumericFields<F>> }

/** Named aggregation requests. */
export type AggMap<F extends FieldMap> = { readonly [name: string]: AggRequest<F> }

type SubResults<A> = A extends { aggs: infer S } ? { [K in keyof S]: AggResult<S[K]> } : unknown

/** Result of one aggregation request `A`. */
export type AggResult<A> = A extends { terms: unknown }
  ? {
      buckets: Array<{ key: string | number; key_as_string?: string; doc_count: number } & SubResults<A>>
      doc_count_error_upper_bound?: number
      sum_other_doc_count?: number
    }
  : A extends { date_histogram: unknown }
    ? { buckets: Array<{ key: number; key_as_string: string; doc_count: number } & SubResults<A>> }
    : A extends { histogram: unknown }
      ? { buckets: Array<{ key: number; doc_count: number } & SubResults<A>> }
      : A extends { range: unknown }
        ? { buckets: Array<{ key: string; from?: number; to?: number; doc_count: number } & SubResults<A>> }
        : A extends { filter: unknown }
          ? { doc_count: number } & SubResults<A>
          : A extends { stats: unknown }
            ? estypes.AggregationsStatsAggregate
            : A extends { sum: unknown } | { avg: unknown } | { min: unknown } | { max: unknown }
              ? { value: number | null; value_as_string?: string }
              : A extends { value_count: unknown } | { cardinality: unknown }
                ? { value: number }
                : estypes.AggregationsAggregate

/** Results of named aggregations. */
export type AggResults<A> = { [K in keyof A]: AggResult<A[K]> }

/** One sort key. `_score` sorts by relevance. */
export type SortSpec<F extends FieldMap> =
  | SortableFields<F>
  | '_score'
  | {
      field: SortableFields<F> | '_score'
      order?: 'asc' | 'desc' | undefined
      missing?: '_first' | '_last' | undefined
    }

/** Highlighting request: text fields, or fields with tags. */
export type HighlightSpec<F extends FieldMap> =
  | readonly TextFields<F>[]
  | {
      fields: readonly TextFields<F>[]
      /** @default '<em>' */
      preTag?: string | undefined
      /** @default '</em>' */
      postTag?: string | undefined
      /** Fragment size in characters. @default 150 */
      fragmentSize?: number | undefined
      /** Fragments per field. @default 3 */
      numberOfFragments?: number | undefined
    }

/** A typed search request. */
export interface SearchRequest<F extends FieldMap, A extends AggMap<F> = Record<never, never>> {
  /** Scored query (use `def.q.*` helpers). */
  query?: Query | undefined
  /** Non-scoring filters, ANDed. */
  filter?: Query | readonly Query[] | undefined
  /** Sort keys; the id field is appended as a tiebreaker. @default relevance */
  sort?: readonly SortSpec<F>[] | undefined
  /** Highlighting. */
  highlight?: HighlightSpec<F> | undefined
  /** Aggregations; their result types are inferred. */
  aggs?: A | undefined
  /** Hits to return. @default 10 */
  size?: number | undefined
  /** Offset for shallow paging (use cursors beyond a few pages). @default 0 */
  from?: number | undefined
  /**
   * Continue after a hit: the `sort` values of the last hit of the previous page (`hit.sort`),
   * for cursors that keep highlights and aggregations (which `searchPage` does not) without a
   * point in time. Needs `sort` (the id field is appended to it, so the order is total); the
   * values must fit it (one per sort key, numbers for scores, dates and numbers, a string or null
   * for keywords) or the call throws `E_SEARCH_INVALID_VALUE` before any request. Without a point
   * in time each page sees the index as it is then: a document written between two pages moves
   * only if its sort values change (a relevance score can, as the index's statistics do).
   * Not with `from`.
   */
  searchAfter?: readonly (string | number | boolean | null)[] | undefined
  /** `true` counts exactly, a number counts up to it, `false` skips counting. @default 10000 (engine default) */
  trackTotalHits?: boolean | number | undefined
  /** Index or alias to search instead of the definition's name. */
  index?: string | undefined
  /**
   * Budget of this call (ms or `'500ms'`), the request and its retries included; past it the call
   * rejects with `E_SEARCH_UNAVAILABLE` (`reason: 'timeout'`). Call > client `searchTimeout` > 1 s.
   */
  timeout?: Duration | undefined
  /**
   * Answer this call when the engine cannot (`E_SEARCH_UNAVAILABLE` or `E_SEARCH_AUTH`): the
   * result is returned with `degraded` set. Wins over the client's `fallback.search`.
   */
  fallback?: SearchFallback<DocumentOfFields<F>, A> | undefined
}

/** Why a result came from a fallback instead of the engine (see {@link SearchResult.degraded}). */
export interface SearchDegradation {
  /** `timeout`, `connection`, `overloaded`, `circuit-open`, or `auth` (credentials refused). */
  reason: SearchUnavailableReason | 'auth'
  /** The code of the engine-side failure. */
  code: 'E_SEARCH_UNAVAILABLE' | 'E_SEARCH_AUTH'
  /** The failure's message (redacted: no credentials). */
  message: string
}

/** What a search fallback returns: hits at least; `total` and `aggregations` when it can. */
export interface SearchFallbackAnswer<D, A> {
  /** Hits (`score: null` when the fallback does not rank). */
  hits: Array<Hit<D>>
  /** Total matches, when the fallback counts them. @default undefined */
  total?: { value: number; relation: 'eq' | 'gte' } | undefined
  /** Aggregation results, when the request asked for some and the fallback can answer them. @default {} */
  aggregations?: AggResults<A> | undefined
}

/**
 * Answers a search the engine could not (it is unavailable, or refused the credentials), e.g.
 * from SQL. `error` is the engine-side failure, `request` the search as it was asked.
 */
export type SearchFallback<D, A> = (
  error: SearchError,
  request: { readonly index: string; readonly request: SearchRequest<any, any> },
) => SearchFallbackAnswer<D, A> | Promise<SearchFallbackAnswer<D, A>>

/** One hit. */
export interface Hit<D> {
  /** Document id. */
  id: string
  /** Relevance score (null when sorted by field). */
  score: number | null
  /** The document. */
  source: D
  /** Highlighted fragments by field. */
  highlight: Record<string, string[]> | undefined
  /** Sort values (used for cursors). */
  sort: estypes.SortResults | undefined
}

/** Result of a typed search. */
export interface SearchResult<D, A> {
  /** Total hits (`relation: 'gte'` when counting stopped early); undefined with `trackTotalHits: false`. */
  total: { value: number; relation: 'eq' | 'gte' } | undefined
  /** Engine-side time in ms. */
  took: number
  /** Hits. */
  hits: Array<Hit<D>>
  /** Aggregation results, typed from the request. */
  aggregations: AggResults<A>
  /**
   * Set when the engine could not answer and a fallback did: why. Absent on every answer of the
   * engine. Show it to users ("results may be incomplete") and count it.
   */
  degraded?: SearchDegradation | undefined
}

/** Options of cursor paging (`searchPage`, `scan`). */
export interface PageRequest<F extends FieldMap>
  extends Omit<SearchRequest<F>, 'aggs' | 'from' | 'highlight' | 'timeout' | 'fallback' | 'searchAfter'> {
  /** Cursor returned by the previous page; omit for the first page. */
  cursor?: string | undefined
  /** Hits per page. @default 100 */
  size?: number | undefined
  /** How long the point in time stays open between pages (`'1m'`, ms). @default '1m' */
  keepAlive?: import('../duration.js').Duration | undefined
}

/** One page of cursor paging. */
export interface Page<D> {
  /** Hits of this page. */
  hits: Array<Hit<D>>
  /** Cursor of the next page, or null when this is the last (the PIT is then closed). */
  nextCursor: string | null
}

/** Document type helper re-exported for results. */
export type DocOf<F extends FieldMap> = DocumentOfFields<F>

/** Answers a `get` the engine could not (unavailable, or credentials refused), e.g. from SQL. */
export type GetFallback<D> = (
  error: SearchError,
  request: { readonly index: string; readonly id: string },
) => D | null | Promise<D | null>

/** Options of `SearchClient.get`. */
export interface GetOptions<D> {
  /** Index or alias to read instead of the definition's name. */
  index?: string | undefined
  /** Budget of this call (ms or `'500ms'`). Call > client `searchTimeout` > 1 s. */
  timeout?: Duration | undefined
  /** Answer when the engine cannot; the result then has `degraded` set. Wins over the client's `fallback.get`. */
  fallback?: GetFallback<D> | undefined
}

/** A document read by id. */
export interface GetResult<D> {
  /** Document id. */
  id: string
  /** The document. */
  source: D
  /** Set when a fallback answered instead of the engine (see {@link SearchResult.degraded}). */
  degraded?: SearchDegradation | undefined
}
