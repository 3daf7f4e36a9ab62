/** Injection token of the resolved {@link PerformanceOptions}. */
export const AYALA_PERFORMANCE_OPTIONS: unique symbol = Symbol('AYALA_PERFORMANCE_OPTIONS')
/** Injection token of the prom-client `Registry` the metrics module writes to. */
export const AYALA_METRICS_REGISTRY: unique symbol = Symbol('AYALA_METRICS_REGISTRY')
/** Injection token of the {@link HttpMetrics}. */
export const AYALA_HTTP_METRICS: unique symbol = Symbol('AYALA_HTTP_METRICS')
