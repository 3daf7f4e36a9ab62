export type { SourceOutcome } from './bounded-source.js'
export { BoundedSource, registerCollectorMetrics } from './bounded-source.js'
export { CACHE_CHANNEL_NAMES } from './cache-channels.js'
export type { CacheStatsSource } from './cache-metrics.js'
export { registerCacheMetrics } from './cache-metrics.js'
export type { CacheResultLabel, HttpMetrics } from './http-metrics.js'
export { createHttpMetrics } from './http-metrics.js'
export type { MetricsModuleAsyncOptions, MetricsModuleOptions, MetricsModuleShape } from './metrics.module.js'
export { AyalaMetricsModule } from './metrics.module.js'
export { PerformanceInterceptor } from './performance.interceptor.js'
export type { PerformanceEventMap, RequestEvent } from './performance-events.js'
export { PerformanceEvents } from './performance-events.js'
export type {
  PerformanceOptions,
  ResolvedPerformanceOptions,
  SlowRequestEvent,
} from './performance-options.js'
export { DEFAULT_PERFORMANCE_OPTIONS, resolvePerformanceOptions } from './performance-options.js'
export { createPrometheusController, prometheusHandler } from './prometheus.js'
export type { RequestCacheStats } from './request-cache-stats.js'
export {
  currentRequestCacheStats,
  emptyRequestCacheStats,
  runWithRequestCacheStats,
} from './request-cache-stats.js'
export { messagePatternRoute } from './route-info.js'
export type {
  CollectorOptions,
  ConsumerStatsSource,
  DashboardStatsSource,
  SearchMetricsOptions,
  SearchStatsSource,
} from './service-metrics.js'
export {
  registerConsumerMetrics,
  registerDashboardMetrics,
  registerSearchMetrics,
} from './service-metrics.js'
export { AYALA_HTTP_METRICS, AYALA_METRICS_REGISTRY, AYALA_PERFORMANCE_OPTIONS } from './tokens.js'
