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
  SearchModuleAsyncOptions,
  SearchModuleConfig,
  SearchModuleOptions,
  SearchModuleShape,
  SearchOutboxConfig,
  SearchRepositoryOf,
} from './search.module.js'
export { AyalaSearchModule } from './search.module.js'
export { SearchRepository } from './search-repository.js'
export {
  AYALA_SEARCH_CLIENT,
  AYALA_SEARCH_OUTBOX,
  getSearchRepositoryToken,
  InjectSearchClient,
  InjectSearchRepository,
} from './tokens.js'
