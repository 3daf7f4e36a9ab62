export type { CacheModuleAsyncOptions, CacheModuleOptions, CacheModuleShape } from './cache.module.js'
export { AyalaCacheModule } from './cache.module.js'
export { NAMED_CACHE_METADATA, UseNamedCache } from './cache-binding.js'
export { CacheModeInterceptor } from './cache-mode.interceptor.js'
export type { CacheMode } from './cache-mode.js'
export { CACHE_MODE_METADATA, currentCacheMode, runWithCacheMode, UseCacheMode } from './cache-mode.js'
export {
  AYALA_CACHE,
  DEFAULT_CACHE_NAME,
  getCacheModuleOptionsToken,
  getCacheToken,
  InjectCache,
} from './tokens.js'
