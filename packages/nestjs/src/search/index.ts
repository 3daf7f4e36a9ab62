export type {
  RequestMetricsIndex,
  RequestMetricsSinkOptions,
  RequestMetricsSinkStats,
} from './request-metrics-sink.js'
export {
  AyalaRequestMetricsSinkModule,
  RequestMetricsSink,
  requestMetricsIndex,
} from './request-metrics-sink.js'
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
