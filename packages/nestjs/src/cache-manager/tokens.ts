/**
 * The tokens and metadata keys of `@nestjs/cache-manager`, as the same plain strings, so the
 * drop-in needs no import of it: `@Inject(CACHE_MANAGER)` from either package resolves the same
 * provider, and `@CacheKey` / `@CacheTTL` from either package set the metadata both
 * interceptors read.
 */
import { SetMetadata } from '@nestjs/common'

/** The provider token of the cache manager: `@Inject(CACHE_MANAGER) cache: Cache`. Same string as `@nestjs/cache-manager`'s. */
export const CACHE_MANAGER = 'CACHE_MANAGER'

/** Metadata key of `@CacheKey` (the same as `@nestjs/cache-manager`'s). */
export const CACHE_KEY_METADATA = 'cache_module:cache_key'

/** Metadata key of `@CacheTTL` (the same as `@nestjs/cache-manager`'s). */
export const CACHE_TTL_METADATA = 'cache_module:cache_ttl'

/**
 * The cache key of a handler's cached response (required outside HTTP: microservices, websockets),
 * or a function of the execution context. Interchangeable with `@nestjs/cache-manager`'s.
 */
export const CacheKey = (key: string | ((context: any) => string | undefined)) =>
  SetMetadata(CACHE_KEY_METADATA, key)

/**
 * The TTL of a handler's (or a controller's) cached responses, in milliseconds, or a function of
 * the execution context. Interchangeable with `@nestjs/cache-manager`'s.
 */
export const CacheTTL = (ttl: number | ((context: any) => number | Promise<number>)) =>
  SetMetadata(CACHE_TTL_METADATA, ttl)
