/**
 * `AyalaOutboxModule`: the transactional outbox of `@ayala/outbox` under DI. Writers inject the
 * `Outbox` and record effects in their transaction; the relay (when `sinks` are given) delivers
 * them in the background. Give `sinks` in every instance to share the work, or in a worker only.
 *
 * Lifecycle: the table is created (when `ensureTable`) in `onModuleInit`, before any provider's
 * bootstrap hook can write (a database that cannot be reached or refuses the credentials does not
 * fail the bootstrap by default: the table is ensured in the background, the relay's health says
 * the table is unreachable meanwhile, see `onStartFailure`); the relay starts in
 * `onApplicationBootstrap` and stops in
 * `beforeApplicationShutdown` (its batch in flight is aborted and retried by the next relay), so
 * the pool it borrows can be closed in `onApplicationShutdown` by its owner. The module never
 * closes what it was given.
 */
import {
  createOutbox,
  type Outbox,
  type OutboxRelay,
  type OutboxRelayOptions,
  type OutboxSink,
  type SqlDialect,
  type SqlPool,
} from '@ayala/outbox'
import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  type InjectionToken,
  Logger,
  Module,
  type ModuleMetadata,
  type OnApplicationBootstrap,
  type OnModuleInit,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common'
import { rejectUnknownOptions, resolvedAsyncProvider, resolvedProvider } from '../dynamic-module.js'
import { InvalidOptionError } from '../errors.js'
import { StartRetry } from '../start-retry.js'
import { AYALA_OUTBOX, AYALA_OUTBOX_RELAY } from './tokens.js'

/** What `forRoot` takes and `forRootAsync`'s factory returns. */
export interface OutboxModuleConfig {
  /** Pool (mariadb, mysql2, pg) or Prisma client for the table's creation and the relay (borrowed). */
  db: SqlPool
  /** Outbox table. @default 'ayala_outbox' */
  table?: string | undefined
  /** SQL dialect. @default 'mysql' */
  dialect?: SqlDialect | undefined
  /** Create the table at start-up if missing. @default true */
  ensureTable?: boolean | undefined
  /** The sinks by effect name: a relay runs in this application. Absent: effects are only recorded. */
  sinks?: Readonly<Record<string, OutboxSink<never>>> | undefined
  /** Relay options other than `db` and `sinks`. */
  relay?: Omit<OutboxRelayOptions, 'db' | 'sinks'> | undefined
  /**
   * What a failed `ensureTable` at start-up does when the database cannot answer
   * (`E_OUTBOX_SQL`, retriable: down, or refusing the credentials): `'retry'` logs one warning,
   * lets the application start and ensures the table in the background (1 s, doubling up to
   * 30 s); `'fail'` fails the bootstrap.
   * @default 'retry'
   */
  onStartFailure?: 'retry' | 'fail' | undefined
}

/** Options of {@link AyalaOutboxModule.forRoot}. */
export interface OutboxModuleOptions extends OutboxModuleConfig {
  /** Make the providers injectable in every module. @default false */
  isGlobal?: boolean | undefined
}

/** Options of {@link AyalaOutboxModule.forRootAsync}. */
export interface OutboxModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Make the providers injectable in every module. @default false */
  isGlobal?: boolean | undefined
  /** Builds the configuration from other providers (the pool, the cache, a Kafka producer). */
  useFactory: (...args: any[]) => OutboxModuleConfig | Promise<OutboxModuleConfig>
  /** Providers given to `useFactory`. */
  inject?: Array<InjectionToken | OptionalFactoryDependency> | undefined
}

interface Resolved {
  config: OutboxModuleConfig
  outbox: Outbox
  relay: OutboxRelay | undefined
}

const RESOLVED = Symbol('@ayala/nestjs:outbox-resolved')
const CONFIG_KEYS = new Set(['db', 'table', 'dialect', 'ensureTable', 'sinks', 'relay', 'onStartFailure'])

function resolve(config: OutboxModuleConfig): Resolved {
  rejectUnknownOptions(config, CONFIG_KEYS)
  if (config.db === null || typeof config.db !== 'object') {
    throw new InvalidOptionError('db', 'expected a pool (mariadb, mysql2, pg) or a Prisma client')
  }
  if (
    config.onStartFailure !== undefined &&
    config.onStartFailure !== 'retry' &&
    config.onStartFailure !== 'fail'
  )
    throw new InvalidOptionError('onStartFailure', "expected 'retry' or 'fail'")
  const outbox = createOutbox({ table: config.table, dialect: config.dialect })
  const relay =
    config.sinks === undefined
      ? undefined
      : outbox.relay({ ...config.relay, db: config.db, sinks: config.sinks })
  return { config, outbox, relay }
}

class OutboxLifecycle implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly ensure: StartRetry

  constructor(private readonly resolved: Resolved) {
    this.ensure = new StartRetry(
      new Logger('AyalaOutboxModule'),
      'The outbox table could not be ensured',
      () => resolved.outbox.ensureTable(resolved.config.db),
      // The database down or refusing the login: retriable E_OUTBOX_SQL. Anything else (a bad
      // table name, a pool of the wrong dialect) fails the bootstrap.
      (error) => (error as { retriable?: unknown })?.retriable === true,
    )
  }

  async onModuleInit(): Promise<void> {
    if (this.resolved.config.ensureTable ?? true)
      await this.ensure.run(this.resolved.config.onStartFailure ?? 'retry')
  }

  onApplicationBootstrap(): void {
    this.resolved.relay?.start()
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.ensure.stop()
    await this.resolved.relay?.stop()
  }
}

function build(
  global: boolean,
  resolvedProvider: Provider,
  imports: ModuleMetadata['imports'],
): DynamicModule {
  return {
    module: AyalaOutboxModule,
    global,
    imports: imports ?? [],
    providers: [
      resolvedProvider,
      { provide: AYALA_OUTBOX, useFactory: (r: Resolved) => r.outbox, inject: [RESOLVED] },
      { provide: AYALA_OUTBOX_RELAY, useFactory: (r: Resolved) => r.relay ?? null, inject: [RESOLVED] },
      { provide: OutboxLifecycle, useFactory: (r: Resolved) => new OutboxLifecycle(r), inject: [RESOLVED] },
    ],
    exports: [AYALA_OUTBOX, AYALA_OUTBOX_RELAY],
  }
}

/**
 * The `@ayala/outbox` module for Nest.
 *
 * ```ts
 * AyalaOutboxModule.forRootAsync({
 *   inject: [DATABASE, getCacheToken(), KAFKA_PRODUCER],
 *   useFactory: (db: Database, cache: Cache, producer: Producer) => ({
 *     db: db.pool,
 *     sinks: { cache: cacheSink({ cache }), kafka: kafkaSink({ producer }) },
 *   }),
 * })
 * // constructor(@InjectOutbox() outbox: Outbox, @InjectOutboxRelay() relay: OutboxRelay | null)
 * ```
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static factories
export class AyalaOutboxModule {
  /** Register the module with static options. */
  static forRoot(options: OutboxModuleOptions): DynamicModule {
    const { isGlobal, ...config } = options
    return build(isGlobal ?? false, resolvedProvider(RESOLVED, resolve, config), [])
  }

  /** Register the module with a configuration built by a factory. */
  static forRootAsync(options: OutboxModuleAsyncOptions): DynamicModule {
    const provider = resolvedAsyncProvider(RESOLVED, resolve, options, ['isGlobal'])
    return build(options.isGlobal ?? false, provider, options.imports)
  }
}
