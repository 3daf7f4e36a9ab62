/**
 * `AyalaCacheManagerModule`: the drop-in for `@nestjs/cache-manager`'s `CacheModule`. It takes
 * the same entry points (`register(options)`, `registerAsync({ useFactory | useClass |
 * useExisting, inject, imports, extraProviders, isGlobal })`) and registers an
 * {@link AyalaCacheManager} under `CACHE_MANAGER` (the same string token), so every
 * `@Inject(CACHE_MANAGER) cache: Cache` and `CacheInterceptor` of the application keeps working
 * on `@ayala/cache` once `CacheModule.register(...)` reads `AyalaCacheManagerModule.register(...)`.
 *
 * Options are those of `createCache` (`redis`, `namespace`, `l1Ttl`, `grace`, `lease`...) with
 * `ttl` and `refreshThreshold` in milliseconds as cache-manager reads them, or a ready `cache`
 * (an `@ayala/cache` instance: borrowed, not closed). cache-manager's `stores` and `nonBlocking`
 * are refused by name: the tiers here are L1 plus Redis. A cache the module creates is closed in
 * `onApplicationShutdown`, after the HTTP server stopped answering.
 */
import { type Cache, type CacheOptions, createCache, type Duration } from '@ayala/cache'
import {
  type DynamicModule,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type OnApplicationShutdown,
  type OptionalFactoryDependency,
  type Provider,
  type Type,
} from '@nestjs/common'
import { toMilliseconds } from '../duration.js'
import { rejectUnknownOptions } from '../dynamic-module.js'
import { InvalidOptionError } from '../errors.js'
import { AyalaCacheManager, type CacheManagerSettings } from './ayala-cache-manager.js'
import { CACHE_MANAGER } from './tokens.js'

/** What `register` takes and the async forms produce (besides `isGlobal`). */
export interface CacheManagerOptions extends Omit<CacheOptions, 'ttl'> {
  /**
   * Default TTL of the calls that give none, in milliseconds (cache-manager's `ttl`). Absent, or
   * a call's `ttl: 0`: no expiry, which becomes `noExpiryTtl`. @default none
   */
  ttl?: number | undefined
  /**
   * Default refresh-ahead of `wrap`: a hit with less than this left (ms) answers and reloads in
   * the background (cache-manager's `refreshThreshold`). Costs one round trip per `wrap` hit.
   * @default none
   */
  refreshThreshold?: number | undefined
  /**
   * What cache-manager's "no expiry" becomes (`@ayala/cache` entries always expire; its tag
   * versions never do). @default '30d'
   */
  noExpiryTtl?: Duration | undefined
  /** The id `cacheId()` answers. @default the namespace */
  cacheId?: string | undefined
  /** A ready `@ayala/cache` instance to use instead of creating one (borrowed: not closed). */
  cache?: Cache | undefined
}

/** Options of {@link AyalaCacheManagerModule.register}. */
export interface CacheManagerModuleOptions extends CacheManagerOptions {
  /** Make `CACHE_MANAGER` injectable in every module. @default false */
  isGlobal?: boolean | undefined
}

/** A class that builds the options (`useClass` / `useExisting`), as `@nestjs/cache-manager`'s. */
export interface CacheManagerOptionsFactory {
  createCacheOptions(): CacheManagerOptions | Promise<CacheManagerOptions>
}

/** Options of {@link AyalaCacheManagerModule.registerAsync}. */
export interface CacheManagerModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Make `CACHE_MANAGER` injectable in every module. @default false */
  isGlobal?: boolean | undefined
  /** Builds the options from the providers of `inject`. */
  useFactory?: ((...args: any[]) => CacheManagerOptions | Promise<CacheManagerOptions>) | undefined
  /** Providers given to `useFactory`. */
  inject?: Array<InjectionToken | OptionalFactoryDependency> | undefined
  /** A class instantiated here whose `createCacheOptions()` builds the options. */
  useClass?: Type<CacheManagerOptionsFactory> | undefined
  /** A provider (of an imported module) whose `createCacheOptions()` builds the options. */
  useExisting?: Type<CacheManagerOptionsFactory> | undefined
  /** Extra providers registered in the module's scope. */
  extraProviders?: Provider[] | undefined
}

const REFUSED: Readonly<Record<string, string>> = {
  stores:
    'the tiers of the drop-in are L1 and Redis: give redis (a URL or an ioredis client) instead of Keyv stores',
  nonBlocking: 'the drop-in always writes both tiers before resolving (reads of L1 never wait for Redis)',
  refreshAllStores: 'a background refresh writes both tiers',
}
const ASYNC_KEYS = [
  'isGlobal',
  'useFactory',
  'inject',
  'useClass',
  'useExisting',
  'imports',
  'extraProviders',
]

function milliseconds(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new InvalidOptionError(name, `expected milliseconds (a number, 0 or above), got ${String(value)}`)
  return value
}

/** The manager of `options`: the cache created (owned) or given (borrowed), and its settings. */
export function createCacheManager(options: CacheManagerOptions): AyalaCacheManager {
  for (const key of Object.keys(options)) {
    const why = REFUSED[key]
    if (why !== undefined) throw new InvalidOptionError(key, `not supported by the drop-in: ${why}`)
  }
  const { ttl, refreshThreshold, noExpiryTtl, cacheId, cache: given, ...cacheOptions } = options
  if (given !== undefined) {
    rejectUnknownOptions(cacheOptions, [])
    if (typeof given?.getOrSet !== 'function' || typeof given.expiresAt !== 'function')
      throw new InvalidOptionError('cache', 'expected an @ayala/cache Cache (createCache)')
  }
  const ttlMs = milliseconds(ttl, 'ttl')
  const noExpiryTtlMs = toMilliseconds(noExpiryTtl ?? '30d', 'noExpiryTtl')
  if (noExpiryTtlMs <= 0) throw new InvalidOptionError('noExpiryTtl', 'must be greater than 0')
  const settingsTtl = ttlMs === 0 ? undefined : ttlMs
  // The cache's own default TTL is the manager's, so its other entry points (decorators, the
  // AyalaCacheModule's injections of the same instance) agree with the calls made here.
  const cache = given ?? createCache({ ...cacheOptions, ttl: settingsTtl ?? noExpiryTtlMs })
  if (cacheId !== undefined && (typeof cacheId !== 'string' || cacheId === ''))
    throw new InvalidOptionError('cacheId', 'expected a non-empty string')
  const settings: CacheManagerSettings = Object.freeze({
    ttlMs: settingsTtl,
    noExpiryTtlMs,
    refreshThresholdMs: milliseconds(refreshThreshold, 'refreshThreshold'),
    cacheId: cacheId ?? cache.options.namespace,
    owned: given === undefined,
  })
  return new AyalaCacheManager(cache, settings)
}

/** Closes the cache the module created, after the HTTP server stopped. */
class CacheManagerLifecycle implements OnApplicationShutdown {
  constructor(private readonly manager: AyalaCacheManager) {}

  async onApplicationShutdown(): Promise<void> {
    await this.manager.disconnect()
  }
}

function build(
  global: boolean,
  managerProvider: Provider,
  imports: ModuleMetadata['imports'],
  extra: Provider[],
): DynamicModule {
  return {
    module: AyalaCacheManagerModule,
    global,
    imports: imports ?? [],
    providers: [
      managerProvider,
      { provide: AyalaCacheManager, useExisting: CACHE_MANAGER },
      {
        provide: CacheManagerLifecycle,
        useFactory: (manager: AyalaCacheManager) => new CacheManagerLifecycle(manager),
        inject: [CACHE_MANAGER],
      },
      ...extra,
    ],
    exports: [CACHE_MANAGER, AyalaCacheManager],
  }
}

/**
 * The `@nestjs/cache-manager` drop-in (see the module note).
 *
 * ```ts
 * // before: CacheModule.register({ ttl: 5000, isGlobal: true })
 * AyalaCacheManagerModule.register({ ttl: 5000, isGlobal: true, redis: process.env.REDIS_URL, namespace: 'api' })
 * // unchanged: constructor(@Inject(CACHE_MANAGER) private readonly cache: Cache) {}
 * ```
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static factories
export class AyalaCacheManagerModule {
  /** Register the cache manager with static options. */
  static register(options: CacheManagerModuleOptions = {}): DynamicModule {
    const { isGlobal, ...rest } = options
    const provider: Provider = { provide: CACHE_MANAGER, useFactory: () => createCacheManager(rest) }
    return build(isGlobal ?? false, provider, [], [])
  }

  /** Register the cache manager with options built by a factory, a class or an existing provider. */
  static registerAsync(options: CacheManagerModuleAsyncOptions): DynamicModule {
    rejectUnknownOptions(options, ASYNC_KEYS)
    const forms = [options.useFactory, options.useClass, options.useExisting].filter((f) => f !== undefined)
    if (forms.length !== 1)
      throw new InvalidOptionError('useFactory', 'give one of useFactory, useClass, useExisting')
    const extra: Provider[] = [...(options.extraProviders ?? [])]
    let provider: Provider
    if (options.useFactory !== undefined) {
      const factory = options.useFactory
      provider = {
        provide: CACHE_MANAGER,
        useFactory: async (...args: unknown[]) => createCacheManager(await factory(...args)),
        inject: options.inject ?? [],
      }
    } else {
      const type = (options.useClass ?? options.useExisting) as Type<CacheManagerOptionsFactory>
      if (options.useClass !== undefined) extra.push({ provide: type, useClass: type })
      provider = {
        provide: CACHE_MANAGER,
        useFactory: async (factory: CacheManagerOptionsFactory) =>
          createCacheManager(await factory.createCacheOptions()),
        inject: [type],
      }
    }
    return build(options.isGlobal ?? false, provider, options.imports, extra)
  }
}
