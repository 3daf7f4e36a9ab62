/**
 * The request metrics, registered once per registry. Creating them twice in one registry (two
 * modules, a hot reload) reuses the registered ones instead of throwing prom-client's
 * "already registered" error.
 */
import { Counter, Histogram, type Registry, Summary } from 'prom-client'
import type { ResolvedPerformanceOptions } from './performance-options.js'

/** Label values of the cache breakdown counter. */
export type CacheResultLabel = 'l1_hit' | 'l2_hit' | 'miss' | 'stale' | 'coalesced' | 'bypass'

/** The prom-client metrics the performance interceptor writes. */
export interface HttpMetrics {
  /** `<prefix>http_request_duration_seconds{method,route,status_code}` */
  readonly duration: Histogram<'method' | 'route' | 'status_code'>
  /** `<prefix>http_request_duration_quantiles_seconds{method,route,quantile}`, when quantiles are on. */
  readonly quantiles: Summary<'method' | 'route'> | undefined
  /** `<prefix>http_slow_requests_total{method,route}` */
  readonly slow: Counter<'method' | 'route'>
  /** `<prefix>http_request_cache_events_total{method,route,result}` */
  readonly cacheEvents: Counter<'method' | 'route' | 'result'>
  /** `<prefix>http_streams_total{method,route}`: streams that ended, when streams are not measured. */
  readonly streams: Counter<'method' | 'route'>
}

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined
}

/** Create (or reuse) the request metrics in `registry`. */
export function createHttpMetrics(registry: Registry, options: ResolvedPerformanceOptions): HttpMetrics {
  const p = options.prefix
  const durationName = `${p}http_request_duration_seconds`
  const duration =
    existing<Histogram<'method' | 'route' | 'status_code'>>(registry, durationName) ??
    new Histogram({
      name: durationName,
      help: 'Duration of handled requests (interceptor to response), seconds',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [...options.buckets],
      registers: [registry],
    })
  let quantiles: Summary<'method' | 'route'> | undefined
  if (options.quantiles !== false) {
    const name = `${p}http_request_duration_quantiles_seconds`
    quantiles =
      existing<Summary<'method' | 'route'>>(registry, name) ??
      new Summary({
        name,
        help: 'Quantiles of the request duration over a sliding window, seconds',
        labelNames: ['method', 'route'] as const,
        percentiles: [...options.quantiles],
        maxAgeSeconds: Math.max(1, Math.round(options.quantileWindowMs / 1000)),
        ageBuckets: 5,
        registers: [registry],
      })
  }
  const slowName = `${p}http_slow_requests_total`
  const slow =
    existing<Counter<'method' | 'route'>>(registry, slowName) ??
    new Counter({
      name: slowName,
      help: 'Requests slower than the slow-request threshold',
      labelNames: ['method', 'route'] as const,
      registers: [registry],
    })
  const cacheName = `${p}http_request_cache_events_total`
  const cacheEvents =
    existing<Counter<'method' | 'route' | 'result'>>(registry, cacheName) ??
    new Counter({
      name: cacheName,
      help: 'Cache lookups made while handling requests, by route and result',
      labelNames: ['method', 'route', 'result'] as const,
      registers: [registry],
    })
  const streamsName = `${p}http_streams_total`
  const streams =
    existing<Counter<'method' | 'route'>>(registry, streamsName) ??
    new Counter({
      name: streamsName,
      help: 'Streaming responses (SSE, long polls) that ended; not in the request duration histogram',
      labelNames: ['method', 'route'] as const,
      registers: [registry],
    })
  return Object.freeze({ duration, quantiles, slow, cacheEvents, streams })
}
