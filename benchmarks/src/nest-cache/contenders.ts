/**
 * The contenders of the `nest-cache-manager` scenario: what an application imports for its cache
 * module, its `CacheInterceptor` and its `@CacheTTL`, and the token it injects. The routes are the
 * same (`app.ts`); the TTL and the key set are the same; every contender keeps its data in the
 * harness's Redis under the run's namespace.
 *
 * - `@nestjs/cache-manager` + Keyv Redis: `CacheModule.register({ stores: [createKeyv(redis)] })`,
 *   what the Nest documentation shows for Redis (one tier: every hit is a Redis round trip);
 * - `@nestjs/cache-manager` + memory + Keyv Redis: cache-manager's README two tiers (an LRU-bounded
 *   Keyv memory store over `@keyv/redis`): the peer of our two tiers;
 * - the drop-in: `AyalaCacheManagerModule.register({ redis })` with its own interceptor, and
 *   under `@nestjs/cache-manager`'s `CacheInterceptor` (an app that changed only its module);
 * - no cache: the same handler without interceptor (the loader every time), the floor of the route.
 */
import { AyalaCacheManagerModule, CacheInterceptor, CacheTTL } from '@ayala/nestjs/cache-manager'
import { createKeyv as createKeyvRedis } from '@keyv/redis'
import {
  CacheModule,
  CacheInterceptor as NestCacheInterceptor,
  CacheTTL as NestCacheTTL,
} from '@nestjs/cache-manager'
import type { DynamicModule, NestInterceptor, Type } from '@nestjs/common'
import { createKeyv } from 'cacheable'

/** One contender. */
export interface Contender {
  /** Row name in the report. */
  label: string
  /** The cache module of the application. */
  module(redisUrl: string, namespace: string, ttlMs: number): DynamicModule
  /** The interceptor class on the cached route. */
  interceptor: Type<NestInterceptor>
  /** The `@CacheTTL` decorator factory. */
  cacheTtl(ms: number): MethodDecorator
  /** The token the handler's manager is injected by. */
  token: string
}

/** Without interceptor: the route's own cost (the 2 ms loader on every request). */
class NoInterceptor implements NestInterceptor {
  intercept(_context: unknown, next: { handle(): unknown }) {
    return next.handle() as never
  }
}

const noop = (): MethodDecorator => () => undefined

export const CONTENDERS = {
  'nestjs-keyv-redis': {
    label: '@nestjs/cache-manager 12 + cache-manager 7 + Keyv Redis',
    module: (redisUrl, namespace, ttlMs) =>
      CacheModule.register({ ttl: ttlMs, stores: [createKeyvRedis(redisUrl, { namespace })] }),
    interceptor: NestCacheInterceptor,
    cacheTtl: NestCacheTTL,
    token: 'CACHE_MANAGER',
  },
  'nestjs-memory-keyv-redis': {
    label: '@nestjs/cache-manager 12 + cache-manager 7, Keyv memory over Keyv Redis',
    module: (redisUrl, namespace, ttlMs) =>
      CacheModule.register({
        ttl: ttlMs,
        // Two copies of keyv's types meet here (cacheable's and @keyv/redis's): the same API.
        stores: [
          createKeyv({ ttl: ttlMs, lruSize: 10_000 }),
          createKeyvRedis(redisUrl, { namespace }),
        ] as never,
      }),
    interceptor: NestCacheInterceptor,
    cacheTtl: NestCacheTTL,
    token: 'CACHE_MANAGER',
  },
  'ayala-drop-in': {
    label: '@ayala/nestjs/cache-manager (L1 + Redis)',
    module: (redisUrl, namespace, ttlMs) =>
      AyalaCacheManagerModule.register({ ttl: ttlMs, redis: redisUrl, namespace }),
    interceptor: CacheInterceptor,
    cacheTtl: CacheTTL,
    token: 'CACHE_MANAGER',
  },
  'ayala-drop-in-nest-interceptor': {
    label: "@ayala/nestjs/cache-manager (L1 + Redis) under @nestjs/cache-manager's CacheInterceptor",
    module: (redisUrl, namespace, ttlMs) =>
      AyalaCacheManagerModule.register({ ttl: ttlMs, redis: redisUrl, namespace }),
    interceptor: NestCacheInterceptor,
    cacheTtl: NestCacheTTL,
    token: 'CACHE_MANAGER',
  },
  'no-cache': {
    label: 'no cache (the 2 ms loader on every request)',
    module: (redisUrl, namespace, ttlMs) =>
      AyalaCacheManagerModule.register({ ttl: ttlMs, redis: redisUrl, namespace }),
    interceptor: NoInterceptor,
    cacheTtl: noop,
    token: 'CACHE_MANAGER',
  },
} satisfies Record<string, Contender>

export type ContenderName = keyof typeof CONTENDERS
