export type {
  CacheMode,
  CacheModuleAsyncOptions,
  CacheModuleOptions,
  CacheModuleShape,
} from './cache/index.js'
export {
  AYALA_CACHE,
  AyalaCacheModule,
  CACHE_MODE_METADATA,
  CacheModeInterceptor,
  currentCacheMode,
  DEFAULT_CACHE_NAME,
  getCacheModuleOptionsToken,
  getCacheToken,
  InjectCache,
  NAMED_CACHE_METADATA,
  runWithCacheMode,
  UseCacheMode,
  UseNamedCache,
} from './cache/index.js'
export type { Duration, DurationUnit } from './duration.js'
export { toMilliseconds } from './duration.js'
export type { AyalaNestErrorCode, AyalaNestErrorContext } from './errors.js'
export {
  AyalaNestError,
  HealthCheckFailedError,
  InvalidOptionError,
  RequestMetricsSetupError,
} from './errors.js'
export type { AyalaHttpAnswer } from './http/index.js'
export { AyalaErrorFilter, ayalaErrorToHttp, sdkErrorCode } from './http/index.js'
