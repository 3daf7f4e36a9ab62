/**
 * The engine side of a reconcile: digests of many ranges in one `filters` aggregation (200 per
 * request) with `sum` sub-aggregations over the version field (a document field, or `_version`
 * on Elasticsearch, where it is aggregatable; none on OpenSearch) and, for numeric keys, the key;
 * the key bounds; and `(key, _id, _version)` listings of a range through `search_after` on the
 * key. Every request is counted for the report.
 */
import type { Client, estypes } from '@elastic/elasticsearch'
import { engineError } from '../engine/engine-error.js'
import { SearchError } from '../errors.js'
import type { FieldMap } from '../schema/fields.js'
import type { ResolvedReconcileOptions } from './options.js'
import type { KeyRange, RangeDigest, ReconcileKey } from './types.js'

const MAX_FILTERS = 200

/** The engine side: digests, bounds and key listings of one index. */
export class EngineSide {
  requests = 0
  readonly versionDigest: 'field' | '_version' | 'none'

  constructor(
    private readonly client: Client,
    private readonly o: Readonly<ResolvedReconcileOptions<FieldMap>>,
    engine: 'elasticsearch' | 'opensearch',
  ) {
    this.versionDigest = o.versionField ? 'field' : engine === 'elasticsearch' ? '_version' : 'none'
  }

  #query(range: KeyRange): estypes.QueryDslQueryContainer {
    if (range.gte === undefined && range.lt === undefined) return { match_all: {} }
    const bounds: Record<string, ReconcileKey> = {}
    if (range.gte !== undefined) bounds.gte = range.gte
    if (range.lt !== undefined) bounds.lt = range.lt
    return { range: { [this.o.key]: bounds } }
  }

  async #search(body: Record<string, unknown>): Promise<estypes.SearchResponse<unknown>> {
    this.requests++
    try {
      return await this.client.search({ index: this.o.index, ...(body as estypes.SearchRequest) })
    } catch (error) {
      throw engineError(error, this.o.index)
    }
  }

  async digest(ranges: readonly KeyRange[]): Promise<RangeDigest[]> {
    const out: RangeDigest[] = []
    const versionField = this.o.versionField ?? (this.versionDigest === '_version' ? '_version' : undefined)
    for (let start = 0; start < ranges.length; start += MAX_FILTERS) {
      const chunk = ranges.slice(start, start + MAX_FILTERS)
      const sub: Record<string, estypes.AggregationsAggregationContainer> = {}
      if (versionField) sub.v = { sum: { field: versionField } }
      if (this.o.numeric) sub.k = { sum: { field: this.o.key } }
      const response = await this.#search({
        size: 0,
        track_total_hits: false,
        aggs: { r: { filters: { filters: chunk.map((range) => this.#query(range)) }, aggs: sub } },
      })
      const buckets = (response.aggregations?.r as { buckets?: unknown } | undefined)?.buckets as
        | Array<{ doc_count: number; v?: { value: number | null }; k?: { value: number | null } }>
        | undefined
      if (!Array.isArray(buckets) || buckets.length !== chunk.length)
        throw new SearchError('E_SEARCH_ENGINE', 'The engine returned an unexpected filters aggregation', {
          index: this.o.index,
        })
      for (const bucket of buckets) {
        out.push({
          count: bucket.doc_count,
          versionSum: bucket.v?.value ?? 0,
          ...(this.o.numeric ? { keySum: bucket.k?.value ?? 0 } : {}),
        })
      }
    }
    return out
  }

  async bounds(): Promise<{ min: ReconcileKey; max: ReconcileKey } | undefined> {
    const key = this.o.key
    if (this.o.numeric) {
      const response = await this.#search({
        size: 0,
        track_total_hits: false,
        aggs: { min: { min: { field: key } }, max: { max: { field: key } } },
      })
      const aggs = response.aggregations as Record<string, { value: number | null }> | undefined
      const min = aggs?.min?.value
      const max = aggs?.max?.value
      return typeof min === 'number' && typeof max === 'number' ? { min, max } : undefined
    }
    const edge = async (order: 'asc' | 'desc') => {
      const response = await this.#search({
        size: 1,
        _source: false,
        track_total_hits: false,
        sort: [{ [key]: { order } }],
      })
      return response.hits.hits[0]?.sort?.[0] as string | undefined
    }
    const min = await edge('asc')
    const max = await edge('desc')
    return min === undefined || max === undefined ? undefined : { min, max }
  }

  /** Every `(key, _id, _version)` of `range`, in key order. */
  async list(range: KeyRange): Promise<Array<{ key: ReconcileKey; id: string; version: number }>> {
    const out: Array<{ key: ReconcileKey; id: string; version: number }> = []
    const size = 10_000
    let after: estypes.SortResults | undefined
    for (;;) {
      const response = await this.#search({
        size,
        _source: false,
        version: true,
        track_total_hits: false,
        query: this.#query(range),
        sort: [{ [this.o.key]: { order: 'asc' } }],
        ...(after ? { search_after: after } : {}),
      })
      const hits = response.hits.hits
      for (const hit of hits) {
        out.push({ key: hit.sort?.[0] as ReconcileKey, id: hit._id as string, version: hit._version ?? 0 })
      }
      if (hits.length < size) return out
      after = hits.at(-1)?.sort
    }
  }
}
