/**
 * The OpenSearch Dashboards saved objects: an index pattern (with its field list), four
 * aggregation-based visualisations and a dashboard that places them (2.x export versions).
 */
import {
  cacheUsedFilter,
  DASHBOARD_ID,
  DASHBOARD_INDEX_PATTERN,
  DATA_VIEW_ID,
  FIELD_FORMATS,
  PANELS,
  type Panel,
  slowFilter,
} from './panels.ts'

/** One index-pattern field entry, as OpenSearch Dashboards exports them. */
function osdField(name: string, type: string, esType: string, searchable = true, aggregatable = true) {
  return {
    name,
    type,
    esTypes: [esType],
    count: 0,
    scripted: false,
    searchable,
    aggregatable,
    readFromDocValues: searchable && aggregatable && !name.startsWith('_'),
  }
}

/**
 * The index-pattern fields: the mapped fields of `REQUEST_METRICS_MAPPINGS` (checked against
 * the live mapping by the integration test) and the meta fields.
 */
export const OSD_FIELDS: ReadonlyArray<readonly [name: string, type: string, esType: string]> = [
  ['@timestamp', 'date', 'date'],
  ['ayala.cache.bypassed', 'number', 'integer'],
  ['ayala.cache.coalesced', 'number', 'integer'],
  ['ayala.cache.hit', 'number', 'byte'],
  ['ayala.cache.l1_hits', 'number', 'integer'],
  ['ayala.cache.l2_hits', 'number', 'integer'],
  ['ayala.cache.misses', 'number', 'integer'],
  ['ayala.cache.stale', 'number', 'integer'],
  ['ayala.operation', 'string', 'keyword'],
  ['ayala.route', 'string', 'keyword'],
  ['ayala.slow', 'boolean', 'boolean'],
  ['ayala.status_code', 'number', 'long'],
  ['ayala.transport', 'string', 'keyword'],
  ['data_stream.dataset', 'string', 'keyword'],
  ['data_stream.namespace', 'string', 'keyword'],
  ['data_stream.type', 'string', 'keyword'],
  ['ecs.version', 'string', 'keyword'],
  ['event.category', 'string', 'keyword'],
  ['event.dataset', 'string', 'keyword'],
  ['event.duration', 'number', 'long'],
  ['event.kind', 'string', 'keyword'],
  ['event.outcome', 'string', 'keyword'],
  ['event.type', 'string', 'keyword'],
  ['host.name', 'string', 'keyword'],
  ['http.request.method', 'string', 'keyword'],
  ['http.response.status_code', 'number', 'long'],
  ['service.environment', 'string', 'keyword'],
  ['service.name', 'string', 'keyword'],
  ['service.version', 'string', 'keyword'],
  ['url.path', 'string', 'keyword'],
]

interface OsdVis {
  panel: Panel
  type: string
  aggs: Array<Record<string, unknown>>
  params: Record<string, unknown>
  filters: Array<(ref: { indexRefName: string }) => unknown>
}

function osdVisualizations(): OsdVis[] {
  const table = {
    perPage: 20,
    showPartialRows: false,
    showMetricsAtAllLevels: false,
    showTotal: false,
    totalFunc: 'sum',
    percentageCol: '',
    sort: { columnIndex: null, direction: null },
  }
  const routeTerms = (id: string, schema: string, size: number) => ({
    id,
    enabled: true,
    type: 'terms',
    schema,
    params: {
      field: 'ayala.route',
      orderBy: '_count',
      order: 'desc',
      size,
      otherBucket: false,
      otherBucketLabel: 'Other',
      missingBucket: false,
      missingBucketLabel: 'Missing',
      customLabel: 'Route',
    },
  })
  return [
    {
      panel: PANELS.rate,
      type: 'histogram',
      aggs: [
        { id: '1', enabled: true, type: 'count', schema: 'metric', params: { customLabel: 'Requests' } },
        {
          id: '2',
          enabled: true,
          type: 'date_histogram',
          schema: 'segment',
          params: {
            field: '@timestamp',
            useNormalizedOpenSearchInterval: true,
            scaleMetricValues: false,
            interval: 'auto',
            drop_partials: false,
            min_doc_count: 1,
            extended_bounds: {},
          },
        },
        routeTerms('3', 'group', 10),
      ],
      params: {
        type: 'histogram',
        grid: { categoryLines: false },
        categoryAxes: [
          {
            id: 'CategoryAxis-1',
            type: 'category',
            position: 'bottom',
            show: true,
            style: {},
            scale: { type: 'linear' },
            labels: { show: true, filter: true, truncate: 100 },
            title: {},
          },
        ],
        valueAxes: [
          {
            id: 'ValueAxis-1',
            name: 'LeftAxis-1',
            type: 'value',
            position: 'left',
            show: true,
            style: {},
            scale: { type: 'linear', mode: 'normal' },
            labels: { show: true, rotate: 0, filter: false, truncate: 100 },
            title: { text: 'Requests' },
          },
        ],
        seriesParams: [
          {
            show: true,
            type: 'histogram',
            mode: 'stacked',
            data: { label: 'Requests', id: '1' },
            valueAxis: 'ValueAxis-1',
            drawLinesBetweenPoints: true,
            lineWidth: 2,
            showCircles: true,
          },
        ],
        addTooltip: true,
        addLegend: true,
        legendPosition: 'right',
        times: [],
        addTimeMarker: false,
        labels: { show: false },
        thresholdLine: { show: false, value: 10, width: 1, style: 'full', color: '#E7664C' },
      },
      filters: [],
    },
    {
      panel: PANELS.p95,
      type: 'table',
      aggs: [
        {
          id: '1',
          enabled: true,
          type: 'percentiles',
          schema: 'metric',
          params: { field: 'event.duration', percents: [95], customLabel: 'p95 latency' },
        },
        { id: '2', enabled: true, type: 'count', schema: 'metric', params: { customLabel: 'Requests' } },
        routeTerms('3', 'bucket', 20),
      ],
      params: table,
      filters: [],
    },
    {
      panel: PANELS.hitRatio,
      type: 'table',
      aggs: [
        {
          id: '1',
          enabled: true,
          type: 'avg',
          schema: 'metric',
          params: { field: 'ayala.cache.hit', customLabel: 'Cache hit ratio' },
        },
        {
          id: '2',
          enabled: true,
          type: 'count',
          schema: 'metric',
          params: { customLabel: 'Requests using the cache' },
        },
        routeTerms('3', 'bucket', 20),
      ],
      params: table,
      filters: [cacheUsedFilter],
    },
    {
      panel: PANELS.slow,
      type: 'table',
      aggs: [
        { id: '1', enabled: true, type: 'count', schema: 'metric', params: { customLabel: 'Slow requests' } },
        {
          id: '2',
          enabled: true,
          type: 'max',
          schema: 'metric',
          params: { field: 'event.duration', customLabel: 'Slowest' },
        },
        routeTerms('3', 'bucket', 20),
      ],
      params: table,
      filters: [slowFilter],
    },
  ]
}

/** The OpenSearch Dashboards saved objects, in import order. */
export function opensearchDashboardsObjects(): Array<Record<string, unknown>> {
  const meta = [
    osdField('_id', 'string', '_id'),
    osdField('_index', 'string', '_index'),
    osdField('_score', 'number', '_score', false, false),
    osdField('_source', '_source', '_source', false, false),
  ]
  const indexPattern = {
    id: DATA_VIEW_ID,
    type: 'index-pattern',
    migrationVersion: { 'index-pattern': '7.6.0' },
    attributes: {
      title: DASHBOARD_INDEX_PATTERN,
      timeFieldName: '@timestamp',
      fields: JSON.stringify([
        ...OSD_FIELDS.map(([name, type, esType]) => osdField(name, type, esType)),
        ...meta,
      ]),
      fieldFormatMap: JSON.stringify(FIELD_FORMATS),
    },
    references: [],
  }
  const indexRef = 'kibanaSavedObjectMeta.searchSourceJSON.index'
  const visualizations = osdVisualizations().map((vis) => {
    const filterRefs = vis.filters.map(
      (_, i) => `kibanaSavedObjectMeta.searchSourceJSON.filter[${i}].meta.index`,
    )
    return {
      id: vis.panel.id,
      type: 'visualization',
      migrationVersion: { visualization: '7.10.0' },
      attributes: {
        title: vis.panel.title,
        description: vis.panel.description,
        visState: JSON.stringify({
          title: vis.panel.title,
          type: vis.type,
          aggs: vis.aggs,
          params: vis.params,
        }),
        uiStateJSON: '{}',
        version: 1,
        kibanaSavedObjectMeta: {
          searchSourceJSON: JSON.stringify({
            query: { query: '', language: 'kuery' },
            filter: vis.filters.map((filter, i) => filter({ indexRefName: filterRefs[i] as string })),
            indexRefName: indexRef,
          }),
        },
      },
      references: [
        { name: indexRef, type: 'index-pattern', id: DATA_VIEW_ID },
        ...filterRefs.map((name) => ({ name, type: 'index-pattern', id: DATA_VIEW_ID })),
      ],
    }
  })
  const panels = osdVisualizations().map((vis, i) => ({
    version: '2.19.0',
    panelIndex: String(i + 1),
    gridData: { ...vis.panel.grid, i: String(i + 1) },
    embeddableConfig: {},
    panelRefName: `panel_${i}`,
  }))
  const dashboard = {
    id: DASHBOARD_ID,
    type: 'dashboard',
    migrationVersion: { dashboard: '7.9.3' },
    attributes: {
      title: 'Ayala: requests',
      description:
        'Request rate, p95 latency, slow requests and cache hit ratio by route, from the ECS documents of AyalaRequestMetricsSinkModule.',
      hits: 0,
      panelsJSON: JSON.stringify(panels),
      optionsJSON: JSON.stringify({ useMargins: true, hidePanelTitles: false }),
      version: 1,
      timeRestore: true,
      timeFrom: 'now-1h',
      timeTo: 'now',
      refreshInterval: { pause: false, value: 30_000 },
      kibanaSavedObjectMeta: {
        searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }),
      },
    },
    references: visualizations.map((vis, i) => ({ name: `panel_${i}`, type: 'visualization', id: vis.id })),
  }
  return [indexPattern, ...visualizations, dashboard]
}
