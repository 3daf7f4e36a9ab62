/**
 * `AyalaMetricsStreamModule`: the dashboard reads, their push as Server-Sent Events, and
 * (optionally) the Kafka -> Redis aggregator running inside the application. For a separate
 * worker process, register the module with `consumer` and `dashboard: false` in an application
 * context (`NestFactory.createApplicationContext(WorkerModule)`), and without `consumer` in the
 * HTTP application.
 *
 * Lifecycle: the consumer starts in `onApplicationBootstrap`; in `beforeApplicationShutdown` the
 * open SSE streams are ended (so the HTTP server can close) and the consumer is stopped (its chunk
 * in flight is applied and committed first); the dashboard and an owned Redis connection are
 * closed in `onApplicationShutdown`, after the last HTTP request was answered.
 */
import {
  type Aggregates,
  createDashboard,
  createMetricsConsumer,
  type Dashboard,
  type DashboardOptions,
  type MetricsConsumer,
  type MetricsConsumerOptions,
  type View,
} from '@ayala/metrics-stream'
import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  type InjectionToken,
  Module,
  type ModuleMetadata,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common'
import { type Cluster, Redis } from 'ioredis'
import { InvalidOptionError } from '../errors.js'
import { DashboardStream } from './dashboard-stream.js'
import { AYALA_DASHBOARD, AYALA_METRICS_CONSUMER } from './tokens.js'

/** What `forRoot` takes and `forRootAsync`'s factory returns. */
export interface MetricsStreamModuleConfig<E = any> {
  /** A `redis://` URL (the module owns the connection) or an ioredis client / Cluster (borrowed). */
  redis: string | Redis | Cluster
  /** Key namespace the consumer writes and the dashboard reads. */
  namespace: string
  /** The view (from `defineView`). */
  view: View<E, any, Aggregates<any>>
  /**
   * Run the aggregator in this application: the consumer options without `redis`, `namespace`
   * and `view` (give at least `source`). Absent: the aggregator runs elsewhere.
   */
  consumer?: Omit<MetricsConsumerOptions<E>, 'redis' | 'namespace' | 'view'> | undefined
  /** Dashboard options (without `redis`, `namespace`, `view`); `false`: no dashboard (a worker). @default {} */
  dashboard?: Omit<DashboardOptions<any>, 'redis' | 'namespace' | 'view'> | false | undefined
}

/** Options of {@link AyalaMetricsStreamModule.forRoot}. */
export interface MetricsStreamModuleOptions<E = any> extends MetricsStreamModuleConfig<E> {
  /** Make the providers injectable in every module. @default false */
  isGlobal?: boolean | undefined
}

/** Options of {@link AyalaMetricsStreamModule.forRootAsync}. */
export interface MetricsStreamModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Make the providers injectable in every module. @default false */
  isGlobal?: boolean | undefined
  /** Builds the configuration, e.g. from `ConfigService`. */
  useFactory: (...args: any[]) => MetricsStreamModuleConfig | Promise<MetricsStreamModuleConfig>
  /** Providers given to `useFactory`. */
  inject?: Array<InjectionToken | OptionalFactoryDependency> | undefined
}

interface Resolved {
  redis: Redis | Cluster
  ownsRedis: boolean
  consumer: MetricsConsumer<any> | undefined
  dashboard: Dashboard<any> | undefined
  stream: DashboardStream | undefined
}

const RESOLVED = Symbol('@ayala/nestjs:metrics-stream-resolved')

function resolve(config: MetricsStreamModuleConfig): Resolved {
  if (config === null || typeof config !== 'object')
    throw new InvalidOptionError('options', 'expected an object')
  if (typeof config.namespace !== 'string' || config.namespace === '') {
    throw new InvalidOptionError('namespace', 'expected a non-empty string')
  }
  if (config.view === undefined) throw new InvalidOptionError('view', 'expected a view from defineView()')
  if (config.consumer !== undefined && config.consumer.source === undefined) {
    throw new InvalidOptionError(
      'consumer.source',
      'expected a source, e.g. kafkaSource({ kafka, groupId, topics })',
    )
  }
  const ownsRedis = typeof config.redis === 'string'
  const redis =
    typeof config.redis === 'string' ? new Redis(config.redis, { maxRetriesPerRequest: null }) : config.redis
  if (redis === undefined)
    throw new InvalidOptionError('redis', 'expected a redis:// URL or an ioredis client')
  const { namespace, view } = config
  const consumer =
    config.consumer === undefined
      ? undefined
      : createMetricsConsumer({ ...config.consumer, redis, namespace, view })
  const dashboard =
    config.dashboard === false
      ? undefined
      : createDashboard({ ...(config.dashboard ?? {}), redis, namespace, view })
  return { redis, ownsRedis, consumer, dashboard, stream: dashboard && new DashboardStream(dashboard) }
}

class MetricsStreamLifecycle
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  constructor(private readonly resolved: Resolved) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.resolved.consumer?.start()
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.resolved.stream?.closeAll()
    await this.resolved.consumer?.stop()
  }

  async onApplicationShutdown(): Promise<void> {
    await this.resolved.dashboard?.close()
    if (this.resolved.ownsRedis) await this.resolved.redis.quit()
  }
}

function build(
  global: boolean,
  resolvedProvider: Provider,
  imports: ModuleMetadata['imports'],
): DynamicModule {
  return {
    module: AyalaMetricsStreamModule,
    global,
    imports: imports ?? [],
    providers: [
      resolvedProvider,
      { provide: AYALA_DASHBOARD, useFactory: (r: Resolved) => r.dashboard ?? null, inject: [RESOLVED] },
      {
        provide: AYALA_METRICS_CONSUMER,
        useFactory: (r: Resolved) => r.consumer ?? null,
        inject: [RESOLVED],
      },
      { provide: DashboardStream, useFactory: (r: Resolved) => r.stream ?? null, inject: [RESOLVED] },
      {
        provide: MetricsStreamLifecycle,
        useFactory: (r: Resolved) => new MetricsStreamLifecycle(r),
        inject: [RESOLVED],
      },
    ],
    exports: [AYALA_DASHBOARD, AYALA_METRICS_CONSUMER, DashboardStream],
  }
}

/**
 * The `@ayala/metrics-stream` module for Nest.
 *
 * ```ts
 * AyalaMetricsStreamModule.forRoot({ redis: 'redis://127.0.0.1:6379', namespace: 'dash', view,
 *   consumer: { source: kafkaSource({ kafka, groupId: 'dash', topics: ['invoices'] }) } })
 * // constructor(@InjectDashboard() dashboard: Dashboard<typeof aggregates>, streams: DashboardStream)
 * ```
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static factories
export class AyalaMetricsStreamModule {
  /** Register the module with static options. */
  static forRoot(options: MetricsStreamModuleOptions): DynamicModule {
    const { isGlobal, ...config } = options
    return build(isGlobal ?? false, { provide: RESOLVED, useFactory: () => resolve(config) }, [])
  }

  /** Register the module with a configuration built by a factory. */
  static forRootAsync(options: MetricsStreamModuleAsyncOptions): DynamicModule {
    if (typeof options?.useFactory !== 'function')
      throw new InvalidOptionError('useFactory', 'expected a function')
    return build(
      options.isGlobal ?? false,
      {
        provide: RESOLVED,
        useFactory: async (...args: unknown[]) => resolve(await options.useFactory(...args)),
        inject: options.inject ?? [],
      },
      options.imports,
    )
  }
}
