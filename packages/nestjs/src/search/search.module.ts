/**
 * `AyalaSearchModule`: one `@ayala/search` client, a typed {@link SearchRepository} per index
 * definition, optional index creation at start-up, and the transactional outbox with its worker
 * running inside the application.
 *
 * Lifecycle: indexes and the outbox table are ensured in `onModuleInit` (with `ensureIndex`:
 * created from their definitions with a template that recreates them the same way, and, for an
 * index given a `reconcile` source, backfilled or reported when it is missing or empty while the
 * table has rows); the worker and the scheduled reconcilers start in `onApplicationBootstrap`
 * and are stopped in `beforeApplicationShutdown` (a batch or run in flight finishes; events not
 * yet applied stay in the outbox for the next start); an owned client is closed in
 * `onApplicationShutdown`, after the HTTP server stopped serving searches. The sync state
 * (outbox backlog, dead letters, drift, missing indexes) is the {@link SearchSync} provider, read
 * by `SearchHealthIndicator.syncCheck`.
 */
import {
  createOutbox,
  createReconciler,
  createSearchClient,
  type Duration,
  ensureIndex,
  type FieldMap,
  type IndexDefinition,
  type Outbox,
  type OutboxWorker,
  type OutboxWorkerOptions,
  type ReconcileKey,
  type ReconcileOptions,
  type ReconcileSource,
  SearchClient,
  type SearchClientOptions,
  type SqlConnectionSource,
} from '@ayala/search'
import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  type InjectionToken,
  Logger,
  Module,
  type ModuleMetadata,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common'
import { rejectUnknownOptions, resolvedAsyncProvider, resolvedProvider } from '../dynamic-module.js'
import { InvalidOptionError } from '../errors.js'
import { StartRetry } from '../start-retry.js'
import { SearchRepository } from './search-repository.js'
import { SearchSync } from './search-sync.js'
import {
  AYALA_SEARCH_CLIENT,
  AYALA_SEARCH_OUTBOX,
  AYALA_SEARCH_SYNC,
  getSearchRepositoryToken,
} from './tokens.js'

/** The outbox part of {@link SearchModuleConfig}. */
export interface SearchOutboxConfig {
  /** The database pool the outbox table lives in (e.g. a `mariadb` pool). */
  db: SqlConnectionSource
  /** Outbox table name. @default 'search_outbox' */
  table?: string | undefined
  /** Create the outbox table at start-up if missing. @default true */
  ensureTable?: boolean | undefined
  /** Run the worker in this application with these options; `false`: run it elsewhere. @default {} */
  worker?: Omit<OutboxWorkerOptions, 'search' | 'db'> | false | undefined
}

/** An official `@elastic/elasticsearch` client (`SearchClientOptions['client']`). */
export type OfficialSearchClient = NonNullable<SearchClientOptions['client']>

/** Drift checks of one index (see {@link SearchModuleConfig.reconcile}). */
export interface SearchReconcileConfig {
  /** Index name (a definition of `indexes`). */
  index: string
  /** The database side (e.g. `sqlReconcileSource` over the table). */
  source: ReconcileSource<any, ReconcileKey>
  /**
   * At start-up (with `ensureIndexes`), an index missing or empty while the table has rows:
   * `backfill` it, `report` it (health down until a reconcile repairs it), or `none` (no check).
   * The same choice applies when a scheduled run finds the index missing. @default 'backfill'
   */
  onStart?: 'backfill' | 'report' | 'none' | undefined
  /** Run `reconcile()` every `interval` (ms or `'10m'`); absent: no schedule. */
  interval?: Duration | undefined
  /** Options of each reconcile (key, versionField, writeIndex, fanout, leafSize, dryRun...). */
  options?: Omit<ReconcileOptions<any>, 'search' | 'definition' | 'source'> | undefined
}

/** What `forRoot` takes and `forRootAsync`'s factory returns. */
export interface SearchModuleConfig {
  /**
   * Client options (the module owns and closes the client), a `SearchClient` to borrow (never
   * closed here), or an official `@elastic/elasticsearch` `Client` the application already has,
   * such as `@nestjs/elasticsearch`'s `ElasticsearchService` (`inject: [ElasticsearchService]`):
   * the module wraps it with `createSearchClient({ client })` and closes only the wrapper, never
   * the official client (its owner, e.g. `ElasticsearchModule`, does).
   */
  client: SearchClientOptions | SearchClient | OfficialSearchClient
  /**
   * Ensure the indexes at start-up: create missing ones from their definitions, install the
   * template that recreates them the same way, and check those with a `reconcile` entry.
   * @default false
   */
  ensureIndexes?: boolean | undefined
  /** The transactional outbox; absent: no outbox. */
  outbox?: SearchOutboxConfig | undefined
  /** Drift checks per index: start-up backfill and scheduled `reconcile()` runs. */
  reconcile?: readonly SearchReconcileConfig[] | undefined
  /**
   * What a failed `ensureIndexes` at start-up does when the engine (or, for a backfill, the
   * database) cannot answer or refuses the credentials (`E_SEARCH_UNAVAILABLE`,
   * `E_SEARCH_AUTH`, a database error): `'retry'` logs one warning, lets the application start
   * (searches fail or fall back meanwhile, the health indicator says why) and ensures the indexes
   * in the background (1 s, doubling up to 30 s); `'fail'` fails the bootstrap. An engine that
   * refuses the definition itself (`E_SEARCH_ENGINE`, a mapping conflict) or an invalid option
   * fails the bootstrap either way.
   * @default 'retry'
   */
  onStartFailure?: 'retry' | 'fail' | undefined
}

/** Options that shape the module (not resolvable asynchronously). */
export interface SearchModuleShape {
  /** Index definitions to expose as injectable repositories. */
  indexes?: readonly IndexDefinition<any>[] | undefined
  /** Make the providers injectable in every module. @default false */
  isGlobal?: boolean | undefined
}

/** Options of {@link AyalaSearchModule.forRoot}. */
export interface SearchModuleOptions extends SearchModuleConfig, SearchModuleShape {}

/** Options of {@link AyalaSearchModule.forRootAsync}. */
export interface SearchModuleAsyncOptions extends SearchModuleShape, Pick<ModuleMetadata, 'imports'> {
  /** Builds the configuration, e.g. from `ConfigService`. */
  useFactory: (...args: any[]) => SearchModuleConfig | Promise<SearchModuleConfig>
  /** Providers given to `useFactory`. */
  inject?: Array<InjectionToken | OptionalFactoryDependency> | undefined
}

interface Resolved {
  client: SearchClient
  owned: boolean
  ensureIndexes: boolean
  onStartFailure: 'retry' | 'fail'
  outbox: Outbox | undefined
  outboxConfig: SearchOutboxConfig | undefined
  reconcile: readonly SearchReconcileConfig[]
}

const RESOLVED = Symbol('@ayala/nestjs:search-resolved')
const CONFIG_KEYS: ReadonlySet<string> = new Set([
  'client',
  'ensureIndexes',
  'outbox',
  'reconcile',
  'onStartFailure',
])
const OUTBOX_KEYS: ReadonlySet<string> = new Set(['db', 'table', 'ensureTable', 'worker'])
const RECONCILE_KEYS: ReadonlySet<string> = new Set(['index', 'source', 'onStart', 'interval', 'options'])

function resolve(config: SearchModuleConfig): Resolved {
  rejectUnknownOptions(config, CONFIG_KEYS)
  if (config.client === undefined)
    throw new InvalidOptionError('client', 'give search client options or a SearchClient')
  const owned = !(config.client instanceof SearchClient)
  const client = owned
    ? createSearchClient(clientOptions(config.client as SearchClientOptions | OfficialSearchClient))
    : (config.client as SearchClient)
  const outboxConfig = config.outbox
  if (outboxConfig !== undefined) rejectUnknownOptions(outboxConfig, OUTBOX_KEYS, 'outbox')
  if (outboxConfig !== undefined && typeof outboxConfig.db?.getConnection !== 'function') {
    throw new InvalidOptionError('outbox.db', 'expected a connection pool with getConnection()')
  }
  const reconcile = config.reconcile ?? []
  if (!Array.isArray(reconcile)) throw new InvalidOptionError('reconcile', 'expected a list')
  for (const [i, entry] of reconcile.entries()) {
    if (entry !== null && typeof entry === 'object')
      rejectUnknownOptions(entry, RECONCILE_KEYS, `reconcile[${i}]`)
    if (typeof entry?.index !== 'string')
      throw new InvalidOptionError(`reconcile[${i}].index`, 'expected an index name')
    if (typeof entry.source?.digest !== 'function')
      throw new InvalidOptionError(`reconcile[${i}].source`, 'expected a ReconcileSource')
    if (entry.onStart !== undefined && !['backfill', 'report', 'none'].includes(entry.onStart))
      throw new InvalidOptionError(`reconcile[${i}].onStart`, `expected 'backfill', 'report' or 'none'`)
  }
  return {
    client,
    owned,
    ensureIndexes: config.ensureIndexes ?? false,
    onStartFailure: startFailure(config.onStartFailure),
    outbox: outboxConfig === undefined ? undefined : createOutbox({ table: outboxConfig.table }),
    outboxConfig,
    reconcile,
  }
}

/**
 * The options of the client the module creates: those given, or, for an official client given
 * as it is (it has `transport.request`, options never do), a wrapper over it.
 */
function clientOptions(given: SearchClientOptions | OfficialSearchClient): SearchClientOptions {
  const transport = (given as { transport?: { request?: unknown } }).transport
  return typeof transport?.request === 'function'
    ? { client: given as OfficialSearchClient }
    : (given as SearchClientOptions)
}

function startFailure(value: unknown): 'retry' | 'fail' {
  if (value === undefined) return 'retry'
  if (value === 'retry' || value === 'fail') return value
  throw new InvalidOptionError('onStartFailure', "expected 'retry' or 'fail'")
}

/**
 * Whether ensuring the indexes again may succeed: the engine or the database unavailable, or
 * refusing the credentials (fixed by an operator). A definition the engine refuses
 * (`E_SEARCH_ENGINE`) or an invalid option will not change by waiting.
 */
function ensureMayHeal(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code
  if (code === 'E_SEARCH_UNAVAILABLE' || code === 'E_SEARCH_AUTH') return true
  if (typeof code === 'string' && code.startsWith('E_SEARCH_')) return false
  // Not a search error: the reconcile source (the database) failed.
  return true
}

/** Start-up and shutdown of the module's client, indexes and outbox worker. */
class SearchLifecycle
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('AyalaSearchModule')
  private worker: OutboxWorker | undefined
  private readonly reconcilers: Array<{ start(): void; stop(): Promise<void> }> = []

  constructor(
    private readonly resolved: Resolved,
    private readonly indexes: readonly IndexDefinition<any>[],
    private readonly sync: SearchSync,
  ) {}

  async onModuleInit(): Promise<void> {
    const { client, ensureIndexes, outbox, outboxConfig, reconcile } = this.resolved
    for (const entry of reconcile) {
      const definition = this.indexes.find((d) => d.name === entry.index)
      if (definition === undefined)
        throw new InvalidOptionError('reconcile', `index "${entry.index}" is not one of the module's indexes`)
      const reconciler = createReconciler({
        ...entry.options,
        search: client,
        definition,
        source: entry.source,
        interval: entry.interval,
        onMissing: entry.onStart === 'report' ? 'report' : 'backfill',
      })
      reconciler.on('drift', (report) =>
        this.logger.warn(
          `index "${report.index}" drifted from the database: ${report.missing} missing, ${report.extra} extra, ${report.stale} stale; ${report.remaining} left after repair`,
        ),
      )
      reconciler.on('error', (error) =>
        this.logger.warn(`reconcile of "${entry.index}": ${error.code} ${error.message}`),
      )
      this.sync.attachReconciler(reconciler)
      if (entry.interval !== undefined) this.reconcilers.push(reconciler)
    }
    if (ensureIndexes) await this.ensure.run(this.resolved.onStartFailure)
    if (outbox !== undefined && outboxConfig !== undefined && (outboxConfig.ensureTable ?? true)) {
      await outbox.ensureTable(outboxConfig.db)
    }
  }

  /**
   * Ensure every index (create, template, start-up check); retried in the background when the
   * engine or the database cannot answer (see `onStartFailure`).
   */
  private readonly ensure = new StartRetry(
    this.logger,
    'The search indexes could not be ensured',
    () => this.ensureIndexes(),
    ensureMayHeal,
  )

  private async ensureIndexes(): Promise<void> {
    const { client, reconcile } = this.resolved
    for (const definition of this.indexes) {
      const entry = reconcile.find((r) => r.index === definition.name)
      const check = entry !== undefined && entry.onStart !== 'none'
      const result = await ensureIndex(client, definition, {
        ...(check
          ? {
              source: entry.source,
              onEmpty: entry.onStart === 'report' ? 'report' : 'backfill',
              reconcile: entry.options,
            }
          : {}),
      })
      this.sync.recordStartup(result)
      if (result.state === 'empty')
        this.logger.warn(
          `index "${result.index}" is empty while the table has ${result.rows} rows (reported only)`,
        )
      else if (result.state === 'backfilled')
        this.logger.log(
          `index "${result.index}" was missing or empty: ${result.report?.repaired.indexed} rows backfilled`,
        )
    }
  }

  onApplicationBootstrap(): void {
    const { client, outbox, outboxConfig } = this.resolved
    for (const reconciler of this.reconcilers) reconciler.start()
    if (outbox === undefined || outboxConfig === undefined || outboxConfig.worker === false) return
    this.worker = outbox.worker({ ...(outboxConfig.worker ?? {}), search: client, db: outboxConfig.db })
    this.worker.on('error', (error) => this.logger.warn(`outbox worker: ${error.code} ${error.message}`))
    this.worker.on('dead-letter', (letter) =>
      this.logger.error(
        `outbox dead letter #${letter.seq} (${letter.op} ${letter.index}/${letter.id} v${letter.version}): ${letter.lastError}`,
      ),
    )
    this.sync.attachWorker(this.worker)
    this.worker.start()
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.ensure.stop()
    await Promise.all(this.reconcilers.map((reconciler) => reconciler.stop()))
    await this.worker?.stop()
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.resolved.owned) await this.resolved.client.close()
  }
}

function build(
  shape: SearchModuleShape,
  resolvedProvider: Provider,
  imports: ModuleMetadata['imports'],
): DynamicModule {
  const indexes = shape.indexes ?? []
  if (
    !Array.isArray(indexes) ||
    indexes.some((d) => typeof d?.name !== 'string' || typeof d.idOf !== 'function')
  ) {
    throw new InvalidOptionError('indexes', 'expected a list of defineIndex() definitions')
  }
  const repositories: Provider[] = indexes.map((definition) => ({
    provide: getSearchRepositoryToken(definition),
    useFactory: (resolved: Resolved) => new SearchRepository(resolved.client, definition, resolved.outbox),
    inject: [RESOLVED],
  }))
  return {
    module: AyalaSearchModule,
    global: shape.isGlobal ?? false,
    imports: imports ?? [],
    providers: [
      resolvedProvider,
      { provide: AYALA_SEARCH_CLIENT, useFactory: (r: Resolved) => r.client, inject: [RESOLVED] },
      { provide: AYALA_SEARCH_OUTBOX, useFactory: (r: Resolved) => r.outbox ?? null, inject: [RESOLVED] },
      {
        provide: AYALA_SEARCH_SYNC,
        useFactory: (r: Resolved) =>
          new SearchSync(
            r.client,
            indexes.map((d) => d.name),
            r.outbox,
            r.outboxConfig?.db,
          ),
        inject: [RESOLVED],
      },
      {
        provide: SearchLifecycle,
        useFactory: (r: Resolved, sync: SearchSync) => new SearchLifecycle(r, indexes, sync),
        inject: [RESOLVED, AYALA_SEARCH_SYNC],
      },
      ...repositories,
    ],
    exports: [
      AYALA_SEARCH_CLIENT,
      AYALA_SEARCH_OUTBOX,
      AYALA_SEARCH_SYNC,
      ...repositories.map((p) => (p as { provide: symbol }).provide),
    ],
  }
}

/**
 * The `@ayala/search` module for Nest.
 *
 * ```ts
 * AyalaSearchModule.forRoot({ client: { node: 'http://127.0.0.1:9200' }, indexes: [invoices], outbox: { db: pool } })
 * // constructor(@InjectSearchRepository(invoices) private readonly invoices: SearchRepository<typeof invoices.fields>)
 * ```
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static factories
export class AyalaSearchModule {
  /** Register the module with static options. */
  static forRoot(options: SearchModuleOptions): DynamicModule {
    const { indexes, isGlobal, ...config } = options
    return build({ indexes, isGlobal }, resolvedProvider(RESOLVED, resolve, config), [])
  }

  /** Register the module with a configuration built by a factory. */
  static forRootAsync(options: SearchModuleAsyncOptions): DynamicModule {
    const provider = resolvedAsyncProvider(RESOLVED, resolve, options, ['indexes', 'isGlobal'])
    return build(options, provider, options.imports)
  }
}

/** The repository type of a definition: `SearchRepositoryOf<typeof invoices>`. */
export type SearchRepositoryOf<D extends { readonly fields: FieldMap }> = SearchRepository<D['fields']>
