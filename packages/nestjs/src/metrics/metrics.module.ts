/**
 * `AyalaMetricsModule`: the performance interceptor (global by default), the slow-request events,
 * the request metrics in a prom-client registry, and a Prometheus endpoint.
 */
import {
  type DynamicModule,
  type FactoryProvider,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common'
import { APP_INTERCEPTOR, ModuleRef } from '@nestjs/core'
import { Registry } from 'prom-client'
import { getCacheToken } from '../cache/tokens.js'
import { checkAsyncOptions } from '../dynamic-module.js'
import { InvalidOptionError } from '../errors.js'
import { AYALA_DASHBOARD, AYALA_METRICS_CONSUMER } from '../metrics-stream/tokens.js'
import { AYALA_OUTBOX_RELAY } from '../outbox/tokens.js'
import { AYALA_SEARCH_CLIENT, AYALA_SEARCH_SYNC } from '../search/tokens.js'
import { type BoundedSource, registerCollectorMetrics } from './bounded-source.js'
import { type CacheStatsSource, registerCacheMetrics } from './cache-metrics.js'
import { createHttpMetrics } from './http-metrics.js'
import { type OutboxStatsSource, registerOutboxMetrics } from './outbox-metrics.js'
import { PerformanceInterceptor } from './performance.interceptor.js'
import { PerformanceEvents } from './performance-events.js'
import {
  type PerformanceOptions,
  type ResolvedPerformanceOptions,
  resolvePerformanceOptions,
} from './performance-options.js'
import { createPrometheusController } from './prometheus.js'
import { registerSearchSyncMetrics, type SearchSyncStatsSource } from './search-sync-metrics.js'
import {
  type ConsumerStatsSource,
  type DashboardStatsSource,
  registerConsumerMetrics,
  registerDashboardMetrics,
  registerSearchMetrics,
  type SearchStatsSource,
} from './service-metrics.js'
import { AYALA_HTTP_METRICS, AYALA_METRICS_REGISTRY, AYALA_PERFORMANCE_OPTIONS } from './tokens.js'

/** Options of {@link AyalaMetricsModule.forRoot} that shape the module itself (not resolvable async). */
export interface MetricsModuleShape {
  /** Register the providers in every module (`@Global`). @default false */
  isGlobal?: boolean | undefined
  /** Register the {@link PerformanceInterceptor} for every route (`APP_INTERCEPTOR`). @default true */
  globalInterceptor?: boolean | undefined
  /** Path of the Prometheus endpoint; `false` serves none. @default '/metrics' */
  path?: string | false | undefined
}

/** Options of {@link AyalaMetricsModule.forRoot}. */
export interface MetricsModuleOptions extends PerformanceOptions, MetricsModuleShape {}

/** Options of {@link AyalaMetricsModule.forRootAsync}. */
export interface MetricsModuleAsyncOptions extends MetricsModuleShape, Pick<ModuleMetadata, 'imports'> {
  /** Builds the {@link PerformanceOptions} (e.g. from `ConfigService`). */
  useFactory: (...args: any[]) => PerformanceOptions | Promise<PerformanceOptions>
  /** Providers given to `useFactory`. */
  inject?: Array<InjectionToken | OptionalFactoryDependency> | undefined
}

function shape(
  options: MetricsModuleShape,
): Required<{ [K in keyof MetricsModuleShape]: NonNullable<MetricsModuleShape[K]> }> {
  const path = options.path ?? '/metrics'
  if (path !== false && (typeof path !== 'string' || !path.startsWith('/'))) {
    throw new InvalidOptionError('path', 'expected false or a path starting with "/"')
  }
  return { isGlobal: options.isGlobal ?? false, globalInterceptor: options.globalInterceptor ?? true, path }
}

const CACHE_METRICS = Symbol('@ayala/nestjs:cache-metrics')
const SHAPE_KEYS = ['isGlobal', 'globalInterceptor', 'path'] as const

/** The provider registered under `token` anywhere in the application, or undefined. */
function optional<T>(moduleRef: ModuleRef, token: symbol): T | undefined {
  try {
    return moduleRef.get<T>(token, { strict: false }) ?? undefined
  } catch (error) {
    // Not registered (the module is not imported): nothing to report.
    if (error instanceof Error && error.constructor.name === 'UnknownElementException') return undefined
    throw error
  }
}

/** The registered caches among `names` (looked up in the whole application at each scrape). */
function cacheSources(moduleRef: ModuleRef, names: readonly string[]): CacheStatsSource[] {
  const sources: CacheStatsSource[] = []
  for (const name of names) {
    let cache: Pick<CacheStatsSource, 'stats'>
    try {
      cache = moduleRef.get(getCacheToken(name), { strict: false })
    } catch (error) {
      // A cache name with no AyalaCacheModule registered is skipped (documented under `caches`);
      // any other failure is a real error.
      if (error instanceof Error && error.constructor.name === 'UnknownElementException') continue
      throw error
    }
    sources.push({ name, stats: () => cache.stats() })
  }
  return sources
}

function build(
  optionsProvider: Provider,
  moduleShape: MetricsModuleShape,
  imports: ModuleMetadata['imports'],
): DynamicModule {
  const { isGlobal, globalInterceptor, path } = shape(moduleShape)
  const providers: Provider[] = [
    optionsProvider,
    {
      provide: AYALA_METRICS_REGISTRY,
      useFactory: (options: ResolvedPerformanceOptions) => options.registry ?? new Registry(),
      inject: [AYALA_PERFORMANCE_OPTIONS],
    },
    {
      provide: AYALA_HTTP_METRICS,
      useFactory: createHttpMetrics,
      inject: [AYALA_METRICS_REGISTRY, AYALA_PERFORMANCE_OPTIONS],
    },
    {
      provide: CACHE_METRICS,
      useFactory: (registry: Registry, options: ResolvedPerformanceOptions, moduleRef: ModuleRef) => {
        if (options.caches.length > 0) {
          registerCacheMetrics(registry, options.prefix, () => cacheSources(moduleRef, options.caches))
        }
        registerSearchMetrics(
          registry,
          options.prefix,
          () => optional<SearchStatsSource>(moduleRef, AYALA_SEARCH_CLIENT),
          { legacyLatencyGauge: options.legacySearchLatencyGauge },
        )
        // Every async collector is bounded: a dead service is reported down, never waited on.
        const bounded = {
          collectTimeoutMs: options.collectTimeoutMs,
          collectors: [] as BoundedSource<unknown>[],
        }
        registerSearchSyncMetrics(
          registry,
          options.prefix,
          () => optional<SearchSyncStatsSource>(moduleRef, AYALA_SEARCH_SYNC),
          bounded,
        )
        registerConsumerMetrics(
          registry,
          options.prefix,
          () => optional<ConsumerStatsSource>(moduleRef, AYALA_METRICS_CONSUMER),
          bounded,
        )
        registerOutboxMetrics(
          registry,
          options.prefix,
          () => optional<OutboxStatsSource>(moduleRef, AYALA_OUTBOX_RELAY),
          bounded,
        )
        registerDashboardMetrics(registry, options.prefix, () =>
          optional<DashboardStatsSource>(moduleRef, AYALA_DASHBOARD),
        )
        registerCollectorMetrics(registry, options.prefix, bounded.collectors)
        return true
      },
      inject: [AYALA_METRICS_REGISTRY, AYALA_PERFORMANCE_OPTIONS, ModuleRef],
    },
    { provide: PerformanceEvents, useValue: new PerformanceEvents() },
    PerformanceInterceptor,
  ]
  if (globalInterceptor) providers.push({ provide: APP_INTERCEPTOR, useExisting: PerformanceInterceptor })
  return {
    module: AyalaMetricsModule,
    global: isGlobal,
    imports: imports ?? [],
    controllers: path === false ? [] : [createPrometheusController(path)],
    providers,
    exports: [
      AYALA_PERFORMANCE_OPTIONS,
      AYALA_METRICS_REGISTRY,
      AYALA_HTTP_METRICS,
      PerformanceEvents,
      PerformanceInterceptor,
    ],
  }
}

/**
 * Performance monitoring for a Nest application.
 *
 * ```ts
 * @Module({ imports: [AyalaMetricsModule.forRoot({ slowThreshold: '300ms' })] })
 * export class AppModule {}
 * // GET /metrics -> ayala_http_request_duration_seconds{method,route,status_code}, ...
 * ```
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static factories
export class AyalaMetricsModule {
  /** Register the module with static options. */
  static forRoot(options: MetricsModuleOptions = {}): DynamicModule {
    const { isGlobal, globalInterceptor, path, ...performance } = options
    const resolved = resolvePerformanceOptions(performance)
    return build(
      { provide: AYALA_PERFORMANCE_OPTIONS, useValue: resolved },
      { isGlobal, globalInterceptor, path },
      [],
    )
  }

  /** Register the module with options built by a factory (e.g. from `ConfigService`). */
  static forRootAsync(options: MetricsModuleAsyncOptions): DynamicModule {
    checkAsyncOptions(options, SHAPE_KEYS)
    const provider: FactoryProvider = {
      provide: AYALA_PERFORMANCE_OPTIONS,
      useFactory: async (...args: unknown[]) => resolvePerformanceOptions(await options.useFactory(...args)),
      inject: options.inject ?? [],
    }
    return build(provider, options, options.imports)
  }
}
