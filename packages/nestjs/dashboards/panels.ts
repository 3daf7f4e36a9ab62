/**
 * What the two dashboards share: the index pattern, the ids, the field formats, the two saved
 * filters (literal query DSL, as both UIs store a filter pill) and the four panels' titles and
 * places. `kibana.ts` and `opensearch-dashboards.ts` build each UI's saved objects from it.
 */
/** The index pattern both data views use: every namespace of the default data stream. */
export const DASHBOARD_INDEX_PATTERN = 'logs-ayala.requests-*'
export const DATA_VIEW_ID = 'ayala-requests-data-view'
export const DASHBOARD_ID = 'ayala-requests-dashboard'

/** `event.duration` is in nanoseconds (ECS); both UIs show it in milliseconds. */
export const FIELD_FORMATS = {
  'event.duration': {
    id: 'duration',
    params: { inputFormat: 'nanoseconds', outputFormat: 'asMilliseconds', outputPrecision: 1 },
  },
  'ayala.cache.hit': { id: 'percent', params: {} },
}

/** The slow-request filter: literal query DSL, as both UIs store a filter pill. */
export function slowFilter(indexRef: { index?: string; indexRefName?: string }) {
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
export function cacheUsedFilter(indexRef: { index?: string; indexRefName?: string }) {
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

export interface Panel {
  id: string
  title: string
  description: string
  grid: { x: number; y: number; w: number; h: number }
}

export const PANELS = {
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
