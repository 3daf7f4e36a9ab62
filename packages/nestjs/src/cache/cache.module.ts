/**
 * `AyalaCacheModule`: registers an `@ayala/cache` instance as a provider (one per `name`), the
 * request cache-mode interceptor, and the shutdown that drains and closes the cache.
 */
import { type Cache, type CacheOptions, createCache } from '@ayala/cache'
import {
  type DynamicModule,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common'
import { APP_INTERCEPTOR, DiscoveryModule, DiscoveryService } from '@nestjs/core'
import { type Duration, toMilliseconds } from '../duration.js'
import { checkAsyncOptions } from '../dynamic-module.js'
import { InvalidOptionError } from '../errors.js'
import { CacheLifecycle } from './cache-lifecycle.js'
import { CacheModeInterceptor, HONOR_CACHE_CONTROL } from './cache-mode.interceptor.js'
import { InFlight, manageCache } from './managed-cache.js'
import { DEFAULT_CACHE_NAME, getCacheModuleOptionsToken, getCacheToken } from './tokens.js'

/** Options that shape the module itself (given directly, also to `forRootAsync`). */
export interface CacheModuleShape {
  /** Make the cache injectable in every module (`@Global`). @default false */
  isGlobal?: boolean | undefined
  /** Register several caches by name; inject with `@InjectCache(name)`. @default 'default' */
  name?: string | undefined
  /**
   * At shutdown, how long cache operations still in flight (loaders, background refreshes) may
   * run before the cache is closed anyway. @default '10s'
   */
  shutdownTimeout?: Duration | undefined
  /**
   * Let clients choose the cache mode per request with `Cache-Control: no-cache` (refresh) or
   * `no-store` (bypass), on HTTP routes and on GraphQL operations sent over HTTP. Off by default:
   * any client could then force loads on the database.
   * Only the unnamed cache's module registers the interceptor. @default false
   */
  honorCacheControl?: boolean | undefined
  /**
   * Bind this cache to the application's providers and controllers at start-up, so their
   * `@Cacheable` / `@CacheInvalidate` / `@CachePut` methods use it (see `UseNamedCache`).
   * @default true
   */
  bindProviders?: boolean | undefined
}

/** Options of {@link AyalaCacheModule.forRoot}: the `createCache` options and the module's. */
export interface CacheModuleOptions extends CacheOptions, CacheModuleShape {}

/** Options of {@link AyalaCacheModule.forRootAsync}. */
export interface CacheModuleAsyncOptions extends CacheModuleShape, Pick<ModuleMetadata, 'imports'> {
  /**
   * Returns the `createCache` options (the module creates the cache and closes it at shutdown),
   * or a ready `Cache` (borrowed: not closed unless `closeOnShutdown`).
   */
  useFactory: (...args: any[]) => CacheOptions | Cache | Promise<CacheOptions | Cache>
  /** Providers given to `useFactory`, e.g. `[ConfigService]`. */
  inject?: Array<InjectionToken | OptionalFactoryDependency> | undefined
  /** Close a cache returned ready-made by `useFactory` at shutdown. @default false */
  closeOnShutdown?: boolean | undefined
}

/** The keys of {@link CacheModuleShape}. */
const SHAPE_KEYS = ['isGlobal', 'name', 'shutdownTimeout', 'honorCacheControl', 'bindProviders'] as const

interface ResolvedShape {
  isGlobal: boolean
  name: string
  shutdownTimeoutMs: number
  honorCacheControl: boolean
  bindProviders: boolean
}

function resolveShape(options: CacheModuleShape): ResolvedShape {
  const name = options.name ?? DEFAULT_CACHE_NAME
  if (typeof name !== 'string' || name === '')
    throw new InvalidOptionError('name', 'expected a non-empty string')
  for (const option of ['isGlobal', 'honorCacheControl', 'bindProviders'] as const) {
    if (options[option] !== undefined && typeof options[option] !== 'boolean') {
      throw new InvalidOptionError(option, 'expected a boolean')
    }
  }
  return {
    isGlobal: options.isGlobal ?? false,
    name,
    shutdownTimeoutMs: toMilliseconds(options.shutdownTimeout ?? '10s', 'shutdownTimeout'),
    honorCacheControl: options.honorCacheControl ?? false,
    bindProviders: options.bindProviders ?? true,
  }
}

interface Built {
  cache: Cache
  owned: boolean
}

interface BuiltFactory {
  useFactory: (...args: any[]) => Built | Promise<Built>
  inject?: Array<InjectionToken | OptionalFactoryDependency> | undefined
}

function build(
  shape: ResolvedShape,
  factory: BuiltFactory,
  imports: ModuleMetadata['imports'],
): DynamicModule {
  const token = getCacheToken(shape.name)
  const builtToken = Symbol(`@ayala/nestjs:cache-built:${shape.name}`)
  const inFlightToken = Symbol(`@ayala/nestjs:cache-in-flight:${shape.name}`)
  const providers: Provider[] = [
    { provide: builtToken, useFactory: factory.useFactory, inject: factory.inject ?? [] },
    { provide: getCacheModuleOptionsToken(shape.name), useValue: Object.freeze({ ...shape }) },
    { provide: inFlightToken, useFactory: () => new InFlight() },
    {
      provide: token,
      useFactory: (built: Built, inFlight: InFlight) => manageCache(built.cache, inFlight),
      inject: [builtToken, inFlightToken],
    },
    {
      provide: Symbol(`@ayala/nestjs:cache-lifecycle:${shape.name}`),
      useFactory: (built: Built, inFlight: InFlight, managed: Cache, discovery: DiscoveryService) =>
        new CacheLifecycle(
          shape.name,
          built.cache,
          inFlight,
          shape.shutdownTimeoutMs,
          built.owned,
          shape.bindProviders ? { discovery, managed } : undefined,
        ),
      inject: [builtToken, inFlightToken, token, DiscoveryService],
    },
  ]
  if (shape.name === DEFAULT_CACHE_NAME) {
    providers.push(
      { provide: HONOR_CACHE_CONTROL, useValue: shape.honorCacheControl },
      { provide: APP_INTERCEPTOR, useClass: CacheModeInterceptor },
    )
  }
  return {
    module: AyalaCacheModule,
    global: shape.isGlobal,
    imports: [DiscoveryModule, ...(imports ?? [])],
    providers,
    exports: [token, getCacheModuleOptionsToken(shape.name)],
  }
}

/**
 * The `@ayala/cache` module for Nest.
 *
 * ```ts
 * @Module({ imports: [AyalaCacheModule.forRoot({ redis: 'redis://127.0.0.1:6379', namespace: 'invoices', isGlobal: true })] })
 * export class AppModule {}
 *
 * @Injectable()
 * class InvoiceService { constructor(@InjectCache() private readonly cache: Cache) {} }
 * ```
 *
 * Redis behind Sentinel: the same `redis` URL and `redisOptions` as `createCache`, the Sentinels
 * and the primary's name in `redisOptions` (ioredis' `sentinels` and `name`). The URL then carries
 * the user, password and database (its host and port are not used); the cache owns the
 * connection, follows a promotion and runs its failover check on the promoted node
 * (`failoverCheck`, docs/cache-recovery.md):
 *
 * ```ts
 * AyalaCacheModule.forRoot({
 *   redis: 'redis://app@primary/0',
 *   redisOptions: { sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }], name: 'mymaster', password },
 *   namespace: 'invoices',
 * })
 * ```
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static factories
export class AyalaCacheModule {
  /** Register a cache created from `options` (closed at shutdown). */
  static forRoot(options: CacheModuleOptions = {}): DynamicModule {
    const { isGlobal, name, shutdownTimeout, honorCacheControl, bindProviders, ...cacheOptions } = options
    const shape = resolveShape({ isGlobal, name, shutdownTimeout, honorCacheControl, bindProviders })
    const factory: BuiltFactory = {
      // Created when the module is instantiated, so invalid options fail the bootstrap.
      useFactory: (): Built => ({ cache: createCache(cacheOptions), owned: true }),
    }
    return build(shape, factory, [])
  }

  /** Register a cache whose options (or instance) come from a factory, e.g. `ConfigService`. */
  static forRootAsync(options: CacheModuleAsyncOptions): DynamicModule {
    checkAsyncOptions(options, [...SHAPE_KEYS, 'closeOnShutdown'])
    const shape = resolveShape(options)
    const closeOnShutdown = options.closeOnShutdown ?? false
    const factory: BuiltFactory = {
      useFactory: async (...args: unknown[]): Promise<Built> => {
        const result = await options.useFactory(...args)
        if (isCache(result)) return { cache: result, owned: closeOnShutdown }
        return { cache: createCache(result), owned: true }
      },
      inject: options.inject ?? [],
    }
    return build(shape, factory, options.imports)
  }
}

function isCache(value: unknown): value is Cache {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Cache).getOrSet === 'function' &&
    typeof (value as Cache).close === 'function'
  )
}
