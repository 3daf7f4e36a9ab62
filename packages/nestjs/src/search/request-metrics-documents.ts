/**
 * What one measured request becomes in the search engine.
 *
 * The current shape follows the Elastic Common Schema (ECS), so that Kibana, OpenSearch
 * Dashboards and anything else that speaks ECS reads it without a field mapping of its own:
 * `@timestamp`, `event.duration` in nanoseconds, `http.request.method`,
 * `http.response.status_code`, `url.path`, `service.name`, `event.dataset`, `data_stream.*`.
 * ECS has no field for the route template nor for the cache, so those live under the SDK's own
 * `ayala.*` namespace (custom fields are allowed outside the ECS names):
 *
 * - `ayala.route`: the route pattern (`/invoices/:id`, `Query.invoice`, a message pattern) on
 *   every transport: the dashboards group by it;
 * - `ayala.transport`, `ayala.operation` (the non-HTTP "method": `QUERY`, `REDIS`...), `ayala.slow`;
 * - `ayala.cache.hit`: 1 when every cache lookup of the request was answered from the cache (L1,
 *   L2 or a stale value), 0 when at least one missed, absent when it made none. Its average over
 *   a route is the share of cache-using requests served wholly from the cache (the dashboards'
 *   hit ratio); `ayala.cache.l1_hits`, `l2_hits`, `stale`, `misses`, `coalesced`, `bypassed`
 *   count the lookups themselves.
 *
 * {@link REQUEST_METRICS_MAPPINGS} is the mapping the index template installs; the legacy shape
 * (`at`, `route`, `durationMs`, one plain index) is kept behind the deprecated `index` option.
 */
import { randomUUID } from 'node:crypto'
import { defineIndex, field } from '@ayala/search'
import type { RequestEvent } from '../metrics/performance-events.js'

/** The ECS version the documents follow (`ecs.version`). */
export const REQUEST_METRICS_ECS_VERSION = '8.11.0'

const keyword = { type: 'keyword', ignore_above: 1024 } as const
const count = { type: 'integer' } as const

/**
 * Mappings of the request documents (the data stream's index template). `dynamic: false`: a
 * field outside this list is kept in `_source` but not indexed, so nothing can widen the mapping
 * of a long-lived data stream by accident.
 */
export const REQUEST_METRICS_MAPPINGS = Object.freeze({
  dynamic: false,
  properties: {
    '@timestamp': { type: 'date' },
    ecs: { properties: { version: keyword } },
    data_stream: {
      properties: { type: keyword, dataset: keyword, namespace: keyword },
    },
    event: {
      properties: {
        kind: keyword,
        category: keyword,
        type: keyword,
        outcome: keyword,
        dataset: keyword,
        /** Nanoseconds (ECS). */
        duration: { type: 'long' },
      },
    },
    service: {
      properties: { name: keyword, version: keyword, environment: keyword },
    },
    host: { properties: { name: keyword } },
    http: {
      properties: {
        request: { properties: { method: keyword } },
        response: { properties: { status_code: { type: 'long' } } },
      },
    },
    url: { properties: { path: keyword } },
    ayala: {
      properties: {
        transport: keyword,
        route: keyword,
        operation: keyword,
        status_code: { type: 'long' },
        slow: { type: 'boolean' },
        cache: {
          properties: {
            hit: { type: 'byte' },
            l1_hits: count,
            l2_hits: count,
            stale: count,
            misses: count,
            coalesced: count,
            bypassed: count,
          },
        },
      },
    },
  },
} as const)

/** The service the documents are attributed to (`service.*`, `host.name`). */
export interface RequestMetricsDocumentContext {
  readonly serviceName: string
  readonly serviceVersion: string | undefined
  readonly serviceEnvironment: string | undefined
  readonly hostName: string
  /** `data_stream.*` when the name follows `<type>-<dataset>-<namespace>`. */
  readonly dataStream: { type: string; dataset: string; namespace: string } | undefined
  /** `event.dataset`. */
  readonly dataset: string
  /** Write `url.path`. */
  readonly urlPath: boolean
}

/**
 * `{ type, dataset, namespace }` of a data stream named by the Elastic naming scheme
 * (`logs-ayala.requests-default`: no `-` inside the dataset or namespace), else `undefined`.
 */
export function dataStreamParts(
  name: string,
): { type: string; dataset: string; namespace: string } | undefined {
  const parts = name.split('-')
  if (parts.length !== 3 || parts.some((p) => p === '')) return undefined
  const [type, dataset, namespace] = parts as [string, string, string]
  return { type, dataset, namespace }
}

/** One ECS request document (see the module header). */
export type EcsRequestDocument = Record<string, unknown> & { '@timestamp': string }

/** The ECS document of one measured request. */
export function ecsRequestDocument(
  event: RequestEvent,
  context: RequestMetricsDocumentContext,
): EcsRequestDocument {
  const http = event.transport === 'http'
  const service: Record<string, string> = { name: context.serviceName }
  if (context.serviceVersion !== undefined) service.version = context.serviceVersion
  if (context.serviceEnvironment !== undefined) service.environment = context.serviceEnvironment
  const ayala: Record<string, unknown> = {
    transport: event.transport,
    route: event.route,
    slow: event.slow,
  }
  if (!http) {
    ayala.operation = event.method
    ayala.status_code = event.statusCode
  }
  const cache = event.cache
  if (cache !== undefined) {
    const lookups = cache.l1Hits + cache.l2Hits + cache.stale + cache.misses
    const counts: Record<string, number> = {
      l1_hits: cache.l1Hits,
      l2_hits: cache.l2Hits,
      stale: cache.stale,
      misses: cache.misses,
      coalesced: cache.coalesced,
      bypassed: cache.bypassed,
    }
    if (lookups > 0) counts.hit = cache.misses === 0 ? 1 : 0
    ayala.cache = counts
  }
  const document: EcsRequestDocument = {
    '@timestamp': new Date(event.at).toISOString(),
    ecs: { version: REQUEST_METRICS_ECS_VERSION },
    event: {
      kind: 'event',
      ...(http ? { category: ['web'], type: ['access'] } : {}),
      outcome: event.statusCode >= 500 ? 'failure' : 'success',
      dataset: context.dataset,
      duration: Math.round(event.durationMs * 1_000_000),
    },
    service,
    host: { name: context.hostName },
    ayala,
  }
  if (context.dataStream !== undefined) document.data_stream = context.dataStream
  if (http) {
    document.http = { request: { method: event.method }, response: { status_code: event.statusCode } }
    if (context.urlPath && event.path !== undefined) document.url = { path: event.path }
  }
  return document
}

/**
 * The index definition of the legacy request documents (one plain index, `at`, `route`,
 * `durationMs`...).
 *
 * @deprecated The sink writes ECS documents into a data stream (see `REQUEST_METRICS_MAPPINGS`);
 * this shape is written only with the deprecated `index` option and goes with it.
 */
export function requestMetricsIndex(name = 'request-metrics') {
  return defineIndex({
    name,
    id: 'id',
    fields: {
      id: field.keyword(),
      at: field.date(),
      transport: field.keyword(),
      method: field.keyword(),
      route: field.keyword(),
      statusCode: field.integer(),
      durationMs: field.double(),
      slow: field.boolean(),
      l1Hits: field.integer(),
      l2Hits: field.integer(),
      misses: field.integer(),
      bypassed: field.integer(),
    },
  })
}

/** The legacy request-document index type. */
export type RequestMetricsIndex = ReturnType<typeof requestMetricsIndex>

/** The legacy document of one request (see {@link requestMetricsIndex}). */
export function legacyRequestDocument(event: RequestEvent) {
  return {
    id: randomUUID(),
    at: new Date(event.at).toISOString(),
    transport: event.transport,
    method: event.method,
    route: event.route,
    statusCode: event.statusCode,
    durationMs: event.durationMs,
    slow: event.slow,
    l1Hits: event.cache?.l1Hits ?? 0,
    l2Hits: event.cache?.l2Hits ?? 0,
    misses: event.cache?.misses ?? 0,
    bypassed: event.cache?.bypassed ?? 0,
  }
}
