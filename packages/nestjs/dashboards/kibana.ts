/**
 * The Kibana saved objects: a data view, four Lens visualisations (form-based layers) and a
 * dashboard that places them, with the saved-object versions of a Kibana 8.10+ export.
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
