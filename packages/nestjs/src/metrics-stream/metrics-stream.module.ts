/**
 * `AyalaMetricsStreamModule`: the dashboard reads, their push as Server-Sent Events, and
 * (optionally) the Kafka -> Redis aggregator running inside the application. For a separate
 * worker process, register the module with `consumer` and `dashboard: false` in an application
 * context (`NestFactory.createApplicationContext(WorkerModule)`), and without `consumer` in the
 * HTTP application.
 *
 * Lifecycle: with `ensureTopics`, the view's topics are created or checked first
 * (`ensureViewTopics`); then the consumer starts in `onApplicationBootstrap` (a start that fails on Redis or Kafka,
 * e.g. refused credentials, is retried in the background by default: the application starts and
 * the consumer's health says why it is down, see `onStartFailure`); in `beforeApplicationShutdown` the
 * open SSE streams are ended (so the HTTP server can close) and the consumer is stopped (its chunk
 * in flight is applied and committed first); the dashboard and an owned Redis connection are
 * closed in `onApplicationShutdown`, after the last HTTP request was answered.
 *
 * The Redis connection the module creates from a URL never queues a command forever
 * ({@link METRICS_STREAM_REDIS_OPTIONS}): a command sent while the connection is down fails after
 * one reconnection attempt (the consumer retries it, a dashboard read answers stale or
 * `E_STREAM_UNAVAILABLE` within its `timeout` anyway), connecting gives up after 2 s, and the
 * client keeps reconnecting in the background, at most 1 s apart. It used to be built with
 * `maxRetriesPerRequest: null`: with Redis unreachable, `GET /dashboard` waited for more than 95 s.
 */

import { describeRedisFailure, redisAuthFailure, scrubRedisErrors } from '@ayala/internal'
import {
  type Aggregates,
  createDashboard,
  createMetricsConsumer,
  type Dashboard,
  type DashboardOptions,
  ensureViewTopics,
  type MetricsConsumer,
  type MetricsConsumerOptions,
  type View,
  type ViewTopicsOptions,
} from '@ayala/metrics-stream'
import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  type InjectionToken,
  Logger,
  Module,
  type ModuleMetadata,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common'
import { type Cluster, Redis, type RedisOptions } from 'ioredis'
import { rejectUnknownOptions, resolvedAsyncProvider, resolvedProvider } from '../dynamic-module.js'
import { InvalidOptionError } from '../errors.js'
import { StartRetry } from '../start-retry.js'
import { DashboardStream } from './dashboard-stream.js'
import { AYALA_DASHBOARD, AYALA_METRICS_CONSUMER } from './tokens.js'

/**
 * Options of the ioredis client the module creates from a `redis://` URL (`redisOptions` is
 * applied over them): bounded commands, background reconnection.
 */
export const METRICS_STREAM_REDIS_OPTIONS: Readonly<RedisOptions> = Object.freeze({
  /** A command queued while the connection is down fails after one reconnection attempt. */
  maxRetriesPerRequest: 1,
  /** A connection attempt (TCP and the ready check) gives up after 2 s, then is retried. */
  connectTimeout: 2_000,
  /** Reconnect in the background, 100 ms, 200 ms, ... at most 1 s apart, forever. */
  retryStrategy: (times: number) => Math.min(times * 100, 1_000),
})

/** What `forRoot` takes and `forRootAsync`'s factory returns. */
export interface MetricsStreamModuleConfig<E = any> {
  /** A `redis://` URL (the module owns the connection) or an ioredis client / Cluster (borrowed). */
  redis: string | Redis | Cluster
  /**
   * ioredis options of the connection created from a `redis://` URL (TLS, ACL user...), applied
   * over {@link METRICS_STREAM_REDIS_OPTIONS}; ignored for a borrowed client. Keep
   * `maxRetriesPerRequest` finite: `null` queues commands forever while Redis is unreachable.
   * Redis behind Sentinel: `{ sentinels: [{ host, port }, ...], name: 'mymaster' }` (ioredis asks
   * the Sentinels for the primary at each connection and follows a promotion; the URL then
   * carries the user, password and database, its host and port are not used; `rediss://` or a
   * `tls` option needs `enableTLSForSentinelMode: true` to reach the primary over TLS). After a
   * failover the consumer seeks back if the promoted node lags (docs/operations.md).
   * @default {}
   */
  redisOptions?: RedisOptions | undefined
  /** Key namespace the consumer writes and the dashboard reads. */
  namespace: string
  /** The view (from `defineView`). */
  view: View<E, any, Aggregates<any>>
  /**
   * Run the aggregator in this application: the consumer options without `redis`, `namespace`
   * and `view` (give at least `source`). Absent: the aggregator runs elsewhere.
   */
  consumer?: Omit<MetricsConsumerOptions<E>, 'redis' | 'namespace' | 'view'> | undefined
  /**
   * Create the view's input topic with its `.dlq` and `.late` topics when missing, and check them
   * when present, at bootstrap before the consumer starts: `ensureViewTopics` of
   * `@ayala/metrics-stream` with these options (`{ kafka, topic, partitions, replicationFactor,
   * retention, ... }`). Kafka unreachable follows `onStartFailure` (retried in the background by
   * default, the consumer starting once the topics are there); an existing topic that differs
   * from what is asked (`E_STREAM_TOPIC_MISMATCH`) or invalid options fail the bootstrap. Give
   * the same `deadLetterTopic`/`lateTopic` as the consumer's, if any. Absent: the topics must
   * exist already (the consumer never creates them).
   * @default undefined
   */
  ensureTopics?: ViewTopicsOptions | undefined
  /** Dashboard options (without `redis`, `namespace`, `view`); `false`: no dashboard (a worker). @default {} */
  dashboard?: Omit<DashboardOptions<any>, 'redis' | 'namespace' | 'view'> | false | undefined
  /**
   * What a failed consumer start at bootstrap does (Redis or Kafka down, refused credentials):
   * `'retry'` logs one warning, lets the application start (the consumer's `health()` reports
   * the failure, down) and retries in the background, 1 s then doubling up to 30 s, until it
   * starts or the application shuts down; `'fail'` fails the bootstrap with the error. Invalid
   * options fail the bootstrap either way.
   * @default 'retry'
   */
  onStartFailure?: 'retry' | 'fail' | undefined
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
  onStartFailure: 'retry' | 'fail'
  ensureTopics: ViewTopicsOptions | undefined
  redis: Redis | Cluster
  ownsRedis: boolean
  consumer: MetricsConsumer<any> | undefined
  dashboard: Dashboard<any> | undefined
  stream: DashboardStream | undefined
}

const RESOLVED = Symbol('@ayala/nestjs:metrics-stream-resolved')
const CONFIG_KEYS: ReadonlySet<string> = new Set([
  'redis',
  'redisOptions',
  'namespace',
  'view',
  'consumer',
  'dashboard',
  'ensureTopics',
  'onStartFailure',
])

function resolve(config: MetricsStreamModuleConfig): Resolved {
  rejectUnknownOptions(config, CONFIG_KEYS)
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
    typeof config.redis === 'string'
      ? new Redis(config.redis, { ...METRICS_STREAM_REDIS_OPTIONS, ...config.redisOptions })
      : config.redis
  if (redis === undefined)
    throw new InvalidOptionError('redis', 'expected a redis:// URL or an ioredis client')
  if (
    config.onStartFailure !== undefined &&
    config.onStartFailure !== 'retry' &&
    config.onStartFailure !== 'fail'
  )
    throw new InvalidOptionError('onStartFailure', "expected 'retry' or 'fail'")
  if (ownsRedis) {
    scrubRedisErrors(redis)
    watchConnection(redis as Redis)
  }
  const { namespace, view } = config
  const consumer =
    config.consumer === undefined
      ? undefined
      : createMetricsConsumer({ ...config.consumer, redis, namespace, view })
  const dashboard =
    config.dashboard === false
      ? undefined
      : createDashboard({ ...(config.dashboard ?? {}), redis, namespace, view })
  return {
    onStartFailure: config.onStartFailure ?? 'retry',
    ensureTopics: config.ensureTopics,
    redis,
    ownsRedis,
    consumer,
    dashboard,
    stream: dashboard && new DashboardStream(dashboard),
  }
}

function noop(): void {
  // The outcome of QUIT does not matter: the connection is closed right after.
}

/**
 * Our own connection's errors: one warning per outage (ioredis repeats the error at every
 * reconnection attempt, and prints it as an unhandled error event when no one listens), naming
 * the error's code only (no address, no credentials), or, for refused credentials, the server
 * and the user (never the password).
 */
function watchConnection(redis: Redis): void {
  const logger = new Logger('AyalaMetricsStreamModule')
  let down = false
  redis.on('error', (error: unknown) => {
    if (down) return
    down = true
    if (redisAuthFailure(error) !== undefined) {
      logger.warn(`${describeRedisFailure(redis, 'Redis', error)}; reconnecting in the background`)
      return
    }
    const code = (error as { code?: unknown })?.code
    logger.warn(
      `Redis connection error (${typeof code === 'string' ? code : error instanceof Error ? error.name : 'unknown'}); reconnecting in the background`,
    )
  })
  redis.on('ready', () => {
    if (down) logger.log('Redis connection ready again')
    down = false
  })
}

/** What no retry fixes: the options, and an existing topic that differs from what is asked. */
function retriesCanFix(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code
  return code !== 'E_STREAM_INVALID_OPTION' && code !== 'E_STREAM_TOPIC_MISMATCH'
}

/**
 * Starts the consumer at bootstrap and stops it at shutdown. A start that fails on a dependency
 * (see {@link MetricsStreamModuleConfig.onStartFailure}) is retried in the background
 * (start-retry.ts); the shutdown stops the retries and waits for an attempt in flight, so that no
 * kafkajs consumer is left running after `stop()`.
 */
class MetricsStreamLifecycle
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly starter: StartRetry | undefined

  constructor(private readonly resolved: Resolved) {
    const { consumer, ensureTopics } = resolved
    // Topics first, once: a retry after they were ensured only starts the consumer again.
    let topicsReady = ensureTopics === undefined
    const task = async (): Promise<void> => {
      if (!topicsReady && ensureTopics !== undefined) {
        await ensureViewTopics(ensureTopics)
        topicsReady = true
      }
      await consumer?.start()
    }
    this.starter =
      consumer === undefined && ensureTopics === undefined
        ? undefined
        : new StartRetry(
            new Logger('AyalaMetricsStreamModule'),
            consumer === undefined
              ? 'The view topics could not be ensured'
              : 'The aggregator could not start',
            task,
            retriesCanFix,
          )
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.starter?.run(this.resolved.onStartFailure)
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.starter?.stop()
    this.resolved.stream?.closeAll()
    await this.resolved.consumer?.stop()
  }

  async onApplicationShutdown(): Promise<void> {
    await this.resolved.dashboard?.close()
    if (!this.resolved.ownsRedis) return
    // QUIT lets the replies in flight arrive; a hung or dead Redis must not hold the shutdown.
    const redis = this.resolved.redis
    if (redis.status === 'ready') {
      let timer: ReturnType<typeof setTimeout> | undefined
      const waited = new Promise<void>((done) => {
        timer = setTimeout(done, 1_000)
      })
      await Promise.race([redis.quit().then(noop, noop), waited])
      clearTimeout(timer)
    }
    redis.disconnect()
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
    return build(isGlobal ?? false, resolvedProvider(RESOLVED, resolve, config), [])
  }

  /** Register the module with a configuration built by a factory. */
  static forRootAsync(options: MetricsStreamModuleAsyncOptions): DynamicModule {
    const provider = resolvedAsyncProvider(RESOLVED, resolve, options, ['isGlobal'])
    return build(options.isGlobal ?? false, provider, options.imports)
  }
}
