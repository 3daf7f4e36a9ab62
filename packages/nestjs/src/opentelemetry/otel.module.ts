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
import { AYALA_OTEL_METER, OtelRequestInterceptor } from './otel.interceptor.js'
import { registerOtelCacheMetrics } from './otel-cache-metrics.js'

/** Options of {@link AyalaOpenTelemetryModule.forRoot}. */
export interface OpenTelemetryModuleOptions {
  /** The meter to write to. @default metrics.getMeter('@ayala/nestjs') */
  meter?: Meter | undefined
  /** Names of the `AyalaCacheModule` caches to observe; `false`: none. @default ['default'] */
  caches?: readonly string[] | false | undefined
  /** Register the {@link OtelRequestInterceptor} for every route. @default true */
  globalInterceptor?: boolean | undefined
}

const OPTION_KEYS = ['meter', 'caches', 'globalInterceptor'] as const

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
    const meter = options.meter ?? metrics.getMeter('@ayala/nestjs')
    const providers: Provider[] = [
      { provide: AYALA_OTEL_METER, useValue: meter },
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
