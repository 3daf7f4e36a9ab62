export type {
  CacheManagerCallOptions,
  CacheManagerItem,
  CacheManagerRawData,
  CacheManagerSettings,
  CacheManagerWrapOptions,
} from './ayala-cache-manager.js'
export { AyalaCacheManager } from './ayala-cache-manager.js'
export type { CacheInterceptorStore } from './cache.interceptor.js'
export { CacheInterceptor } from './cache.interceptor.js'
export type {
  CacheManagerModuleAsyncOptions,
  CacheManagerModuleOptions,
  CacheManagerOptions,
  CacheManagerOptionsFactory,
} from './cache-manager.module.js'
export { AyalaCacheManagerModule, createCacheManager } from './cache-manager.module.js'
export { CACHE_KEY_METADATA, CACHE_MANAGER, CACHE_TTL_METADATA, CacheKey, CacheTTL } from './tokens.js'
