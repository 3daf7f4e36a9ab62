/**
 * `AyalaOpenTelemetryModule`: request and cache metrics through `@opentelemetry/api` for
 * applications that run an OpenTelemetry SDK and collector (the module only uses the API; with
 * no SDK registered, the instruments are no-ops).
 */
import { type DynamicModule, Module, type OnModuleDestroy, type Provider } from '@nestjs/common'
import { APP_INTERCEPTOR, ModuleRef } from '@nestjs/core'
import { type Meter, metrics } from '@opentelemetry/api'
import { getCacheToken } from '../cache/tokens.js'
import { rejectUnknownOptions } from '../dynamic-module.js'
import { InvalidOptionError } from '../errors.js'
import type { CacheStatsSource } from '../metrics/cache-metrics.js'
import {
  AYALA_OTEL_METER,
  AYALA_OTEL_STREAMS,
  OtelRequestInterceptor,
  type OtelStreamOptions,
} from './otel.interceptor.js'
import { registerOtelCacheMetrics } from './otel-cache-metrics.js'

/** Options of {@link AyalaOpenTelemetryModule.forRoot}. */
export interface OpenTelemetryModuleOptions {
  /** The meter to write to. @default metrics.getMeter('@ayala/nestjs') */
  meter?: Meter | undefined
  /** Names of the `AyalaCacheModule` caches to observe; `false`: none. @default ['default'] */
  caches?: readonly string[] | false | undefined
  /** Register the {@link OtelRequestInterceptor} for every route. @default true */
  globalInterceptor?: boolean | undefined
  /**
   * Record streams (SSE: `@Sse()` handlers and `text/event-stream` responses; the `streamRoutes`)
   * in `http.server.request.duration` like any request. Off by default: a stream's duration is
   * how long the client stayed connected; streams left out are counted in `ayala.http.streams`.
   * @default false
   */
  measureStreams?: boolean | undefined
  /** Routes (patterns, as in `http.route`) that stream without SSE: long polls. @default [] */
  streamRoutes?: readonly string[] | undefined
}

const OPTION_KEYS = ['meter', 'caches', 'globalInterceptor', 'measureStreams', 'streamRoutes'] as const

function sources(moduleRef: ModuleRef, names: readonly string[]): CacheStatsSource[] {
  const found: CacheStatsSource[] = []
  for (const name of names) {
    try {
      const cache = moduleRef.get<Pick<CacheStatsSource, 'stats'>>(getCacheToken(name), { strict: false })
      found.push({ name, stats: () => cache.stats() })
    } catch (error) {
      // A name with no cache registered is skipped (documented under `caches`).
      if (!(error instanceof Error && error.constructor.name === 'UnknownElementException')) throw error
    }
  }
  return found
}

class OtelCacheObserver implements OnModuleDestroy {
  constructor(private readonly unregister: () => void) {}
  onModuleDestroy(): void {
    this.unregister()
  }
}

/** OpenTelemetry metrics for a Nest application using the SDK's packages. */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static factories
export class AyalaOpenTelemetryModule {
  /** Register the module. */
  static forRoot(options: OpenTelemetryModuleOptions = {}): DynamicModule {
    rejectUnknownOptions(options, OPTION_KEYS)
    const caches = options.caches ?? ['default']
    if (
      caches !== false &&
      (!Array.isArray(caches) || caches.some((c) => typeof c !== 'string' || c === ''))
    ) {
      throw new InvalidOptionError('caches', 'expected false or a list of cache names')
    }
    if (options.measureStreams !== undefined && typeof options.measureStreams !== 'boolean') {
      throw new InvalidOptionError('measureStreams', 'expected a boolean')
    }
    const streamRoutes = options.streamRoutes ?? []
    if (!Array.isArray(streamRoutes) || streamRoutes.some((r) => typeof r !== 'string')) {
      throw new InvalidOptionError('streamRoutes', 'expected a list of route patterns')
    }
    const streams: OtelStreamOptions = Object.freeze({
      measureStreams: options.measureStreams ?? false,
      streamRoutes: new Set<string>(streamRoutes),
    })
    const meter = options.meter ?? metrics.getMeter('@ayala/nestjs')
    const providers: Provider[] = [
      { provide: AYALA_OTEL_METER, useValue: meter },
      { provide: AYALA_OTEL_STREAMS, useValue: streams },
      OtelRequestInterceptor,
      {
        provide: OtelCacheObserver,
        useFactory: (moduleRef: ModuleRef) =>
          new OtelCacheObserver(
            caches === false || caches.length === 0
              ? () => undefined
              : registerOtelCacheMetrics(meter, () => sources(moduleRef, caches)),
          ),
        inject: [ModuleRef],
      },
    ]
    if (options.globalInterceptor ?? true)
      providers.push({ provide: APP_INTERCEPTOR, useExisting: OtelRequestInterceptor })
    return {
      module: AyalaOpenTelemetryModule,
      providers,
      exports: [AYALA_OTEL_METER, OtelRequestInterceptor],
    }
  }
}
