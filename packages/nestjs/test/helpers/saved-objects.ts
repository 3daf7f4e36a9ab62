/**
 * Reads the shipped Kibana / OpenSearch Dashboards saved objects (ndjson) the way the two UIs
 * turn a visualisation into a search, so that a test can run it against a real engine:
 *
 * - Kibana Lens (`formBased` layers): the bucketed columns in `columnOrder` nest in that order
 *   (`terms`, `date_histogram`), the metric columns (`count`, `percentile`, `average`, `max`)
 *   sit inside the innermost bucket; a `terms` ordered by a count column orders by `_count`.
 * - OpenSearch Dashboards aggregation-based visualisations: the bucket aggs (every schema but
 *   `metric`) nest in the order of `aggs`, the metric aggs inside the innermost one.
 * - Both: the saved filters are literal query DSL (`filter[].query`) and go into `bool.filter`
 *   with the dashboard's time range on the data view's time field; the query bar is empty.
 *
 * Only the operations the shipped objects use are translated; any other throws, so a panel
 * added to the files without a translation fails the test instead of being skipped.
 */
import { readFileSync } from 'node:fs'

/** One saved object of an ndjson export. */
export interface SavedObject {
  id: string
  type: string
  attributes: Record<string, unknown>
  references: Array<{ id: string; name: string; type: string }>
}

/** Parse an ndjson export (one object per line; a trailing newline allowed). */
export function readSavedObjects(path: string): SavedObject[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as SavedObject)
}

/** A field a saved object uses, and what for. */
export interface FieldUse {
  object: string
  field: string
  /** `time` (date_histogram, time field), `bucket` (terms), `numeric` (a metric), `filter`, `format`. */
  use: 'time' | 'bucket' | 'numeric' | 'filter' | 'format'
}

/** A flattened row of an aggregation answer: the bucket keys and the metric values by column id. */
export interface Row {
  keys: Record<string, string | number>
  values: Record<string, number | null>
  count: number
}

/** A visualisation turned into a search: its body, and how to read the answer into rows. */
export interface VisualisationQuery {
  object: SavedObject
  title: string
  body: Record<string, unknown>
  read: (response: { aggregations?: unknown }) => Row[]
}

interface Bucketing {
  id: string
  agg: Record<string, unknown>
}
interface Metric {
  id: string
  /** `undefined` for a document count. */
  agg: Record<string, unknown> | undefined
  value: (bucket: Record<string, unknown>) => number | null
}

function metricValue(id: string, percent?: number) {
  return (bucket: Record<string, unknown>): number | null => {
    const answer = bucket[id] as { value?: number | null; values?: Record<string, number | null> } | undefined
    if (percent === undefined) return answer?.value ?? null
    const values = answer?.values ?? {}
    const key = Object.keys(values).find((k) => Number(k) === percent)
    return key === undefined ? null : (values[key] ?? null)
  }
}

function nest(buckets: Bucketing[], metrics: Metric[]): Record<string, unknown> {
  const inner: Record<string, unknown> = {}
  for (const metric of metrics) if (metric.agg !== undefined) inner[metric.id] = metric.agg
  let aggs = inner
  for (const bucket of [...buckets].reverse()) {
    const level: Record<string, unknown> = { ...bucket.agg }
    if (Object.keys(aggs).length > 0) level.aggs = aggs
    aggs = { [bucket.id]: level }
  }
  return aggs
}

function flatten(
  node: Record<string, unknown>,
  buckets: Bucketing[],
  metrics: Metric[],
  keys: Record<string, string | number> = {},
): Row[] {
  const [first, ...rest] = buckets
  if (first === undefined) {
    const values: Record<string, number | null> = {}
    const count = (node.doc_count as number | undefined) ?? 0
    for (const metric of metrics) values[metric.id] = metric.agg === undefined ? count : metric.value(node)
    return [{ keys, values, count }]
  }
  const answer = node[first.id] as { buckets?: Array<Record<string, unknown>> } | undefined
  return (answer?.buckets ?? []).flatMap((bucket) =>
    flatten(bucket, rest, metrics, { ...keys, [first.id]: bucket.key as string | number }),
  )
}

function searchBody(
  timeField: string,
  range: { from: string; to: string },
  filters: unknown[],
  aggs: Record<string, unknown>,
) {
  return {
    size: 0,
    track_total_hits: true,
    query: {
      bool: {
        filter: [
          { range: { [timeField]: { gte: range.from, lte: range.to, format: 'strict_date_optional_time' } } },
          ...filters,
        ],
      },
    },
    aggs,
  }
}

function filterQueries(filters: unknown, object: string): unknown[] {
  return ((filters as Array<{ query?: unknown; meta?: { disabled?: boolean; negate?: boolean } }>) ?? []).map(
    (filter) => {
      if (filter.query === undefined) throw new Error(`${object}: a filter without query DSL`)
      if (filter.meta?.disabled || filter.meta?.negate)
        throw new Error(`${object}: disabled/negated filters untranslated`)
      return filter.query
    },
  )
}

function checkEmptyQuery(query: unknown, object: string): void {
  const text = (query as { query?: unknown } | undefined)?.query
  if (text !== undefined && text !== '') throw new Error(`${object}: a query-bar query is not translated`)
}

/** Fields named inside literal filter DSL (`match_phrase`, `term`, `exists`, `range`). */
function filterFields(filters: unknown[]): string[] {
  const fields: string[] = []
  for (const filter of filters as Array<Record<string, Record<string, unknown>>>) {
    for (const [kind, body] of Object.entries(filter)) {
      if (kind === 'exists') fields.push(body.field as string)
      else fields.push(...Object.keys(body))
    }
  }
  return fields
}

// ------------------------------------------------------------------ Kibana Lens

interface LensColumn {
  operationType: string
  sourceField?: string
  params?: Record<string, unknown>
}

function lensLayer(object: SavedObject) {
  const state = object.attributes.state as {
    datasourceStates: {
      formBased: { layers: Record<string, { columns: Record<string, LensColumn>; columnOrder: string[] }> }
    }
    query: unknown
    filters: unknown
  }
  const layers = Object.values(state.datasourceStates.formBased.layers)
  if (layers.length !== 1) throw new Error(`${object.id}: one layer expected`)
  return { layer: layers[0] as { columns: Record<string, LensColumn>; columnOrder: string[] }, state }
}

/** The query of one Lens visualisation over `index`, its data view's time field and `range`. */
export function lensQuery(
  object: SavedObject,
  index: { timeField: string },
  range: { from: string; to: string },
  extraFilters: unknown[] = [],
): VisualisationQuery {
  const { layer, state } = lensLayer(object)
  checkEmptyQuery(state.query, object.id)
  const buckets: Bucketing[] = []
  const metrics: Metric[] = []
  for (const id of layer.columnOrder) {
    const column = layer.columns[id] as LensColumn
    const field = column.sourceField
    switch (column.operationType) {
      case 'terms': {
        const params = column.params as {
          size: number
          orderBy: { type: string; columnId?: string }
          orderDirection: string
        }
        const target = params.orderBy.columnId ? layer.columns[params.orderBy.columnId] : undefined
        if (params.orderBy.type !== 'column' || target?.operationType !== 'count')
          throw new Error(`${object.id}: terms ordered by something other than a count`)
        buckets.push({
          id,
          agg: { terms: { field, size: params.size, order: { _count: params.orderDirection } } },
        })
        break
      }
      case 'date_histogram':
        buckets.push({ id, agg: { date_histogram: { field, fixed_interval: '1m', min_doc_count: 1 } } })
        break
      case 'count':
        metrics.push({ id, agg: undefined, value: () => null })
        break
      case 'percentile': {
        const percent = (column.params as { percentile: number }).percentile
        metrics.push({
          id,
          agg: { percentiles: { field, percents: [percent] } },
          value: metricValue(id, percent),
        })
        break
      }
      case 'average':
        metrics.push({ id, agg: { avg: { field } }, value: metricValue(id) })
        break
      case 'max':
        metrics.push({ id, agg: { max: { field } }, value: metricValue(id) })
        break
      default:
        throw new Error(`${object.id}: Lens operation ${column.operationType} is not translated`)
    }
  }
  return {
    object,
    title: object.attributes.title as string,
    body: searchBody(
      index.timeField,
      range,
      [...filterQueries(state.filters, object.id), ...extraFilters],
      nest(buckets, metrics),
    ),
    read: (response) => flatten((response.aggregations ?? {}) as Record<string, unknown>, buckets, metrics),
  }
}

/** Every field a Lens visualisation uses, with its use. */
export function lensFields(object: SavedObject): FieldUse[] {
  const { layer, state } = lensLayer(object)
  const uses: FieldUse[] = []
  for (const column of Object.values(layer.columns)) {
    if (column.sourceField === undefined || column.sourceField === '___records___') continue
    const use =
      column.operationType === 'date_histogram'
        ? 'time'
        : column.operationType === 'terms'
          ? 'bucket'
          : 'numeric'
    uses.push({ object: object.id, field: column.sourceField, use })
  }
  for (const field of filterFields(filterQueries(state.filters, object.id)))
    uses.push({ object: object.id, field, use: 'filter' })
  return uses
}

// ------------------------------------------------------------------ OpenSearch Dashboards

interface OsdAgg {
  id: string
  enabled: boolean
  type: string
  schema: string
  params: Record<string, unknown>
}

function osdState(object: SavedObject) {
  const visState = JSON.parse(object.attributes.visState as string) as { aggs: OsdAgg[] }
  const searchSource = JSON.parse(
    (object.attributes.kibanaSavedObjectMeta as { searchSourceJSON: string }).searchSourceJSON,
  ) as { query: unknown; filter: unknown }
  return { aggs: visState.aggs.filter((agg) => agg.enabled), searchSource }
}

/** The query of one aggregation-based visualisation. */
export function osdQuery(
  object: SavedObject,
  index: { timeField: string },
  range: { from: string; to: string },
  extraFilters: unknown[] = [],
): VisualisationQuery {
  const { aggs, searchSource } = osdState(object)
  checkEmptyQuery(searchSource.query, object.id)
  const buckets: Bucketing[] = []
  const metrics: Metric[] = []
  for (const agg of aggs) {
    const field = agg.params.field
    if (agg.schema !== 'metric') {
      if (agg.type === 'terms') {
        if (agg.params.orderBy !== '_count')
          throw new Error(`${object.id}: terms ordered by ${String(agg.params.orderBy)}`)
        buckets.push({
          id: agg.id,
          agg: { terms: { field, size: agg.params.size, order: { _count: agg.params.order } } },
        })
      } else if (agg.type === 'date_histogram') {
        buckets.push({
          id: agg.id,
          agg: { date_histogram: { field, fixed_interval: '1m', min_doc_count: 1 } },
        })
      } else throw new Error(`${object.id}: bucket agg ${agg.type} is not translated`)
      continue
    }
    switch (agg.type) {
      case 'count':
        metrics.push({ id: agg.id, agg: undefined, value: () => null })
        break
      case 'percentiles': {
        const percents = agg.params.percents as number[]
        if (percents.length !== 1) throw new Error(`${object.id}: one percent expected`)
        metrics.push({
          id: agg.id,
          agg: { percentiles: { field, percents } },
          value: metricValue(agg.id, percents[0] as number),
        })
        break
      }
      case 'avg':
      case 'max':
        metrics.push({ id: agg.id, agg: { [agg.type]: { field } }, value: metricValue(agg.id) })
        break
      default:
        throw new Error(`${object.id}: metric agg ${agg.type} is not translated`)
    }
  }
  return {
    object,
    title: object.attributes.title as string,
    body: searchBody(
      index.timeField,
      range,
      [...filterQueries(searchSource.filter, object.id), ...extraFilters],
      nest(buckets, metrics),
    ),
    read: (response) => flatten((response.aggregations ?? {}) as Record<string, unknown>, buckets, metrics),
  }
}

/** Every field an aggregation-based visualisation uses. */
export function osdFields(object: SavedObject): FieldUse[] {
  const { aggs, searchSource } = osdState(object)
  const uses: FieldUse[] = []
  for (const agg of aggs) {
    const field = agg.params.field
    if (typeof field !== 'string') continue
    const use = agg.type === 'date_histogram' ? 'time' : agg.type === 'terms' ? 'bucket' : 'numeric'
    uses.push({ object: object.id, field, use })
  }
  for (const field of filterFields(filterQueries(searchSource.filter, object.id)))
    uses.push({ object: object.id, field, use: 'filter' })
  return uses
}

// ------------------------------------------------------------------ mappings

/** `GET <index>/_mapping` of every backing index, flattened to `dotted.path -> type`. */
export function flattenMappings(
  answer: Record<string, { mappings?: { properties?: unknown } }>,
): Map<string, string> {
  const types = new Map<string, string>()
  const walk = (properties: Record<string, { type?: string; properties?: unknown }>, prefix: string) => {
    for (const [name, mapping] of Object.entries(properties)) {
      const path = `${prefix}${name}`
      if (mapping.properties) walk(mapping.properties as never, `${path}.`)
      else if (mapping.type) {
        const seen = types.get(path)
        if (seen !== undefined && seen !== mapping.type)
          throw new Error(`${path}: ${seen} and ${mapping.type} across backing indices`)
        types.set(path, mapping.type)
      }
    }
  }
  for (const index of Object.values(answer)) walk((index.mappings?.properties ?? {}) as never, '')
  return types
}

/** Engine types each use accepts. */
export const TYPES_FOR_USE: Record<FieldUse['use'], ReadonlySet<string>> = {
  time: new Set(['date', 'date_nanos']),
  bucket: new Set(['keyword', 'long', 'integer', 'short', 'byte', 'boolean']),
  numeric: new Set(['long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float']),
  filter: new Set(['keyword', 'long', 'integer', 'short', 'byte', 'boolean', 'date', 'double']),
  format: new Set(['long', 'integer', 'short', 'byte', 'double', 'float']),
}

/** The OpenSearch Dashboards field type of an engine type. */
export function osdTypeOf(engineType: string): string {
  if (engineType === 'keyword' || engineType === 'text') return 'string'
  if (engineType === 'date' || engineType === 'date_nanos') return 'date'
  if (engineType === 'boolean') return 'boolean'
  return 'number'
}
