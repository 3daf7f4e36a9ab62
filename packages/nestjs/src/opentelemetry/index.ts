export { AYALA_OTEL_METER, OtelRequestInterceptor } from './otel.interceptor.js'
export type { OpenTelemetryModuleOptions } from './otel.module.js'
export { AyalaOpenTelemetryModule } from './otel.module.js'
export { registerOtelCacheMetrics } from './otel-cache-metrics.js'
