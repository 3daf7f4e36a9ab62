export type { DashboardMessageEvent } from './dashboard-stream.js'
export { DashboardStream } from './dashboard-stream.js'
export type {
  MetricsStreamModuleAsyncOptions,
  MetricsStreamModuleConfig,
  MetricsStreamModuleOptions,
} from './metrics-stream.module.js'
export { AyalaMetricsStreamModule, METRICS_STREAM_REDIS_OPTIONS } from './metrics-stream.module.js'
export { AYALA_DASHBOARD, AYALA_METRICS_CONSUMER, InjectDashboard, InjectMetricsConsumer } from './tokens.js'
