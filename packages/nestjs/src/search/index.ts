export { RequestMetricsSetupError } from '../errors.js'
export type {
  RequestMetricsDataStreamSpec,
  RequestMetricsInstallReport,
} from './request-metrics-data-stream.js'
export {
  installRequestMetricsDataStream,
  REQUEST_METRICS_TEMPLATE_PRIORITY,
  requestMetricsIlmPolicy,
  requestMetricsIsmPolicy,
  requestMetricsObjectName,
  requestMetricsTemplate,
} from './request-metrics-data-stream.js'
export type {
  EcsRequestDocument,
  RequestMetricsDocumentContext,
  RequestMetricsIndex,
} from './request-metrics-documents.js'
export {
  REQUEST_METRICS_ECS_VERSION,
  REQUEST_METRICS_MAPPINGS,
  requestMetricsIndex,
} from './request-metrics-documents.js'
export type {
  RequestMetricsRollover,
  RequestMetricsService,
  RequestMetricsSinkOptions,
  ResolvedRequestMetricsSinkOptions,
} from './request-metrics-options.js'
export {
  DEFAULT_REQUEST_METRICS_SINK_OPTIONS,
  resolveRequestMetricsSinkOptions,
} from './request-metrics-options.js'
export type { RequestMetricsSinkStats } from './request-metrics-sink.js'
export { AyalaRequestMetricsSinkModule, RequestMetricsSink } from './request-metrics-sink.js'
export type {
  OfficialSearchClient,
  SearchModuleAsyncOptions,
  SearchModuleConfig,
  SearchModuleOptions,
  SearchModuleShape,
  SearchOutboxConfig,
  SearchReconcileConfig,
  SearchRepositoryOf,
} from './search.module.js'
export { AyalaSearchModule } from './search.module.js'
export type { SearchHttpAnswer } from './search-error.filter.js'
export { SearchErrorFilter, searchErrorToHttp } from './search-error.filter.js'
export { SearchRepository } from './search-repository.js'
export type {
  SearchSyncIndexStatus,
  SearchSyncOutboxStatus,
  SearchSyncStatus,
} from './search-sync.js'
export { SearchSync } from './search-sync.js'
export {
  AYALA_SEARCH_CLIENT,
  AYALA_SEARCH_OUTBOX,
  AYALA_SEARCH_SYNC,
  getSearchRepositoryToken,
  InjectSearchClient,
  InjectSearchRepository,
  InjectSearchSync,
} from './tokens.js'
