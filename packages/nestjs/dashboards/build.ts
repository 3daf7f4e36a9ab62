/**
 * Writes the importable saved objects of the request-metrics dashboards:
 *
 * - `kibana.ndjson`: a data view and four Lens visualisations on one dashboard (Kibana 8.10+
 *   and 9.x: Stack Management -> Saved objects -> Import);
 * - `opensearch-dashboards.ndjson`: an index pattern and four aggregation-based visualisations on
 *   one dashboard (OpenSearch Dashboards 2.x: Dashboards Management -> Saved objects -> Import).
 *
 * Both show the same four panels over the ECS documents of `AyalaRequestMetricsSinkModule`
 * (`logs-ayala.requests-*`): request rate by route, p95 latency by route, slow requests by route,
 * cache hit ratio by route. The files are generated so that the two stay in step; a unit test
 * checks that the committed files equal this output, and an integration test runs each
 * visualisation's aggregation against both engines after real traffic.
 *
 * Run from `packages/nestjs`: `node dashboards/build.ts` (Node 22.18+ strips the types).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The index pattern both data views use: every namespace of the default data stream. */
export const DASHBOARD_INDEX_PATTERN = 'logs-ayala.requests-*'
const DATA_VIEW_ID = 'ayala-requests-data-view'
const DASHBOARD_ID = 'ayala-requests-dashboard'

/** `event.duration` is in nanoseconds (ECS); both UIs show it in milliseconds. */
const FIELD_FORMATS = {
  'event.duration': {
    id: 'duration',
    params: { inputFormat: 'nanoseconds', outputFormat: 'asMilliseconds', outputPrecision: 1 },
  },
  'ayala.cache.hit': { id: 'percent', params: {} },
}

/** The slow-request filter: literal query DSL, as both UIs store a filter pill. */
function slowFilter(indexRef: { index?: string; indexRefName?: string }) {
  return {
    meta: {
      alias: null,
      negate: false,
      disabled: false,
      type: 'phrase',
      key: 'ayala.slow',
      params: { query: true },
      ...indexRef,
    },
    query: { match_phrase: { 'ayala.slow': true } },
    $state: { store: 'appState' },
  }
}

/** Only requests that used the cache carry `ayala.cache.hit`. */
function cacheUsedFilter(indexRef: { index?: string; indexRefName?: string }) {
  return {
    meta: {
      alias: null,
      negate: false,
      disabled: false,
      type: 'exists',
      key: 'ayala.cache.hit',
      value: 'exists',
      ...indexRef,
    },
    query: { exists: { field: 'ayala.cache.hit' } },
    $state: { store: 'appState' },
  }
}

interface Panel {
  id: string
  title: string
  description: string
  grid: { x: number; y: number; w: number; h: number }
}

const PANELS = {
  rate: {
    id: 'ayala-requests-rate',
    title: 'Request rate by route',
    description: 'Requests per interval, top 10 route patterns (ayala.route).',
    grid: { x: 0, y: 0, w: 48, h: 12 },
  },
  p95: {
    id: 'ayala-requests-p95',
    title: 'p95 latency by route',
    description: '95th percentile of event.duration (shown in ms) and request count per route pattern.',
    grid: { x: 0, y: 12, w: 24, h: 14 },
  },
  hitRatio: {
    id: 'ayala-requests-cache-hit-ratio',
    title: 'Cache hit ratio by route',
    description:
      'Share of the requests that used the cache and were served wholly from it (average of ayala.cache.hit).',
    grid: { x: 24, y: 12, w: 24, h: 14 },
  },
  slow: {
    id: 'ayala-requests-slow',
    title: 'Slow requests by route',
    description: 'Requests over the slowThreshold of AyalaMetricsModule (ayala.slow: true), and the slowest.',
    grid: { x: 0, y: 26, w: 48, h: 12 },
  },
} satisfies Record<string, Panel>

// ---------------------------------------------------------------- Kibana (Lens)

const KIBANA_CORE_VERSION = '8.8.0'

function lensColumns() {
  const route = (size: number, orderColumn: string) => ({
    label: 'Route',
    customLabel: true,
    dataType: 'string',
    operationType: 'terms',
    sourceField: 'ayala.route',
    isBucketed: true,
    scale: 'ordinal',
    params: {
      size,
      orderBy: { type: 'column', columnId: orderColumn },
      orderDirection: 'desc',
      otherBucket: false,
      missingBucket: false,
      parentFormat: { id: 'terms' },
    },
  })
  const count = (label: string) => ({
    label,
    customLabel: true,
    dataType: 'number',
    operationType: 'count',
    sourceField: '___records___',
    isBucketed: false,
    scale: 'ratio',
    params: { emptyAsNull: true },
  })
  return { route, count }
}

interface LensSpec {
  panel: Panel
  visualizationType: string
  columns: Record<string, unknown>
  columnOrder: string[]
  visualization: Record<string, unknown>
  filters: Array<(ref: { indexRefName: string }) => unknown>
}

function lensSpecs(): LensSpec[] {
  const { route, count } = lensColumns()
  const layerId = 'layer-requests'
  return [
    {
      panel: PANELS.rate,
      visualizationType: 'lnsXY',
      columns: {
        'col-time': {
          label: '@timestamp',
          dataType: 'date',
          operationType: 'date_histogram',
          sourceField: '@timestamp',
          isBucketed: true,
          scale: 'interval',
          params: { interval: 'auto', includeEmptyRows: true, dropPartials: false },
        },
        'col-route': route(10, 'col-count'),
        'col-count': count('Requests'),
      },
      columnOrder: ['col-route', 'col-time', 'col-count'],
      visualization: {
        legend: { isVisible: true, position: 'right' },
        preferredSeriesType: 'bar_stacked',
        layers: [
          {
            layerId,
            layerType: 'data',
            seriesType: 'bar_stacked',
            xAccessor: 'col-time',
            splitAccessor: 'col-route',
            accessors: ['col-count'],
          },
        ],
      },
      filters: [],
    },
    {
      panel: PANELS.p95,
      visualizationType: 'lnsDatatable',
      columns: {
        'col-route': route(20, 'col-count'),
        'col-p95': {
          label: 'p95 latency',
          customLabel: true,
          dataType: 'number',
          operationType: 'percentile',
          sourceField: 'event.duration',
          isBucketed: false,
          scale: 'ratio',
          params: { percentile: 95 },
        },
        'col-count': count('Requests'),
      },
      columnOrder: ['col-route', 'col-p95', 'col-count'],
      visualization: {
        layerId,
        layerType: 'data',
        columns: [{ columnId: 'col-route' }, { columnId: 'col-p95' }, { columnId: 'col-count' }],
        sorting: { columnId: 'col-p95', direction: 'desc' },
      },
      filters: [],
    },
    {
      panel: PANELS.hitRatio,
      visualizationType: 'lnsXY',
      columns: {
        'col-route': route(20, 'col-count'),
        'col-hit': {
          label: 'Cache hit ratio',
          customLabel: true,
          dataType: 'number',
          operationType: 'average',
          sourceField: 'ayala.cache.hit',
          isBucketed: false,
          scale: 'ratio',
          params: { format: { id: 'percent', params: { decimals: 1 } } },
        },
        'col-count': count('Requests using the cache'),
      },
      columnOrder: ['col-route', 'col-hit', 'col-count'],
      visualization: {
        legend: { isVisible: false, position: 'right' },
        preferredSeriesType: 'bar_horizontal',
        layers: [
          {
            layerId,
            layerType: 'data',
            seriesType: 'bar_horizontal',
            xAccessor: 'col-route',
            accessors: ['col-hit'],
          },
        ],
      },
      filters: [cacheUsedFilter],
    },
    {
      panel: PANELS.slow,
      visualizationType: 'lnsDatatable',
      columns: {
        'col-route': route(20, 'col-count'),
        'col-count': count('Slow requests'),
        'col-max': {
          label: 'Slowest',
          customLabel: true,
          dataType: 'number',
          operationType: 'max',
          sourceField: 'event.duration',
          isBucketed: false,
          scale: 'ratio',
          params: { emptyAsNull: true },
        },
      },
      columnOrder: ['col-route', 'col-count', 'col-max'],
      visualization: {
        layerId,
        layerType: 'data',
        columns: [{ columnId: 'col-route' }, { columnId: 'col-count' }, { columnId: 'col-max' }],
        sorting: { columnId: 'col-count', direction: 'desc' },
      },
      filters: [slowFilter],
    },
  ]
}

/** The Kibana saved objects, in import order (data view, visualisations, dashboard). */
export function kibanaObjects(): Array<Record<string, unknown>> {
  const layerId = 'layer-requests'
  const dataView = {
    id: DATA_VIEW_ID,
    type: 'index-pattern',
    coreMigrationVersion: KIBANA_CORE_VERSION,
    typeMigrationVersion: '8.0.0',
    managed: false,
    attributes: {
      title: DASHBOARD_INDEX_PATTERN,
      name: 'Ayala requests',
      timeFieldName: '@timestamp',
      allowNoIndex: true,
      fieldFormatMap: JSON.stringify(FIELD_FORMATS),
    },
    references: [],
  }
  const lenses = lensSpecs().map((spec) => {
    const filterRefs = spec.filters.map((_, i) => `filter-index-pattern-${i}`)
    return {
      id: spec.panel.id,
      type: 'lens',
      coreMigrationVersion: KIBANA_CORE_VERSION,
      typeMigrationVersion: '8.9.0',
      managed: false,
      attributes: {
        title: spec.panel.title,
        description: spec.panel.description,
        visualizationType: spec.visualizationType,
        state: {
          datasourceStates: {
            formBased: {
              layers: {
                [layerId]: { columns: spec.columns, columnOrder: spec.columnOrder, incompleteColumns: {} },
              },
            },
          },
          visualization: spec.visualization,
          query: { query: '', language: 'kuery' },
          filters: spec.filters.map((filter, i) => filter({ indexRefName: filterRefs[i] as string })),
          internalReferences: [],
          adHocDataViews: {},
        },
      },
      references: [
        { type: 'index-pattern', id: DATA_VIEW_ID, name: `indexpattern-datasource-layer-${layerId}` },
        ...filterRefs.map((name) => ({ type: 'index-pattern', id: DATA_VIEW_ID, name })),
      ],
    }
  })
  const panels = lensSpecs().map((spec, i) => ({
    version: '8.10.0',
    type: 'lens',
    panelIndex: `p${i + 1}`,
    gridData: { ...spec.panel.grid, i: `p${i + 1}` },
    embeddableConfig: { enhancements: {} },
    panelRefName: `panel_p${i + 1}`,
  }))
  const dashboard = {
    id: DASHBOARD_ID,
    type: 'dashboard',
    coreMigrationVersion: KIBANA_CORE_VERSION,
    typeMigrationVersion: '10.2.0',
    managed: false,
    attributes: {
      title: 'Ayala: requests',
      description:
        'Request rate, p95 latency, slow requests and cache hit ratio by route, from the ECS documents of AyalaRequestMetricsSinkModule.',
      panelsJSON: JSON.stringify(panels),
      optionsJSON: JSON.stringify({
        useMargins: true,
        syncColors: false,
        syncCursor: true,
        syncTooltips: false,
        hidePanelTitles: false,
      }),
      timeRestore: true,
      timeFrom: 'now-1h',
      timeTo: 'now',
      refreshInterval: { pause: false, value: 30_000 },
      kibanaSavedObjectMeta: {
        searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }),
      },
    },
    references: panels.map((panel, i) => ({
      type: 'lens',
      id: (lenses[i] as { id: string }).id,
      name: `${panel.panelIndex}:${panel.panelRefName}`,
    })),
  }
  return [dataView, ...lenses, dashboard]
}

// ---------------------------------------------------------------- OpenSearch Dashboards

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

/** One saved object per line, as both UIs import and export them. */
export function toNdjson(objects: ReadonlyArray<Record<string, unknown>>): string {
  return `${objects.map((object) => JSON.stringify(object)).join('\n')}\n`
}

/** File name -> content of every shipped file. */
export function dashboardFiles(): Record<string, string> {
  return {
    'kibana.ndjson': toNdjson(kibanaObjects()),
    'opensearch-dashboards.ndjson': toNdjson(opensearchDashboardsObjects()),
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, content] of Object.entries(dashboardFiles()))
    writeFileSync(join(import.meta.dirname, name), content)
}
