/**
 * `AyalaSearchModule`: one `@ayala/search` client, a typed {@link SearchRepository} per index
 * definition, optional index creation at start-up, and the transactional outbox with its worker
 * running inside the application.
 *
 * Lifecycle: indexes and the outbox table are ensured in `onModuleInit`; the worker starts in
 * `onApplicationBootstrap` and is stopped in `beforeApplicationShutdown` (its batch in flight
 * finishes; events not yet applied stay in the outbox for the next start); an owned client is
 * closed in `onApplicationShutdown`, after the HTTP server stopped serving searches.
 */
import {
  createOutbox,
  createSearchClient,
  type FieldMap,
  type IndexDefinition,
  type Outbox,
  type OutboxWorker,
  type OutboxWorkerOptions,
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
import { InvalidOptionError } from '../errors.js'
import { SearchRepository } from './search-repository.js'
import { AYALA_SEARCH_CLIENT, AYALA_SEARCH_OUTBOX, getSearchRepositoryToken } from './tokens.js'

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

/** What `forRoot` takes and `forRootAsync`'s factory returns. */
export interface SearchModuleConfig {
  /** Client options (the module owns and closes the client), or a client to borrow. */
  client: SearchClientOptions | SearchClient
  /** Create missing indexes from their definitions at start-up. @default false */
  ensureIndexes?: boolean | undefined
  /** The transactional outbox; absent: no outbox. */
  outbox?: SearchOutboxConfig | undefined
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
  outbox: Outbox | undefined
  outboxConfig: SearchOutboxConfig | undefined
}

const RESOLVED = Symbol('@ayala/nestjs:search-resolved')

function resolve(config: SearchModuleConfig): Resolved {
  if (config === null || typeof config !== 'object')
    throw new InvalidOptionError('options', 'expected an object')
  if (config.client === undefined)
    throw new InvalidOptionError('client', 'give search client options or a SearchClient')
  const owned = !(config.client instanceof SearchClient)
  const client = owned
    ? createSearchClient(config.client as SearchClientOptions)
    : (config.client as SearchClient)
  const outboxConfig = config.outbox
  if (outboxConfig !== undefined && typeof outboxConfig.db?.getConnection !== 'function') {
    throw new InvalidOptionError('outbox.db', 'expected a connection pool with getConnection()')
  }
  return {
    client,
    owned,
    ensureIndexes: config.ensureIndexes ?? false,
    outbox: outboxConfig === undefined ? undefined : createOutbox({ table: outboxConfig.table }),
    outboxConfig,
  }
}

/** Start-up and shutdown of the module's client, indexes and outbox worker. */
class SearchLifecycle
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly logger = new Logger('AyalaSearchModule')
  private worker: OutboxWorker | undefined

  constructor(
    private readonly resolved: Resolved,
    private readonly indexes: readonly IndexDefinition<any>[],
  ) {}

  async onModuleInit(): Promise<void> {
    const { client, ensureIndexes, outbox, outboxConfig } = this.resolved
    if (ensureIndexes) {
      const raw = await client.raw()
      for (const definition of this.indexes) {
        if (!(await raw.indices.exists({ index: definition.name }))) await client.createIndex(definition)
      }
    }
    if (outbox !== undefined && outboxConfig !== undefined && (outboxConfig.ensureTable ?? true)) {
      await outbox.ensureTable(outboxConfig.db)
    }
  }

  onApplicationBootstrap(): void {
    const { client, outbox, outboxConfig } = this.resolved
    if (outbox === undefined || outboxConfig === undefined || outboxConfig.worker === false) return
    this.worker = outbox.worker({ ...(outboxConfig.worker ?? {}), search: client, db: outboxConfig.db })
    this.worker.on('error', (error) => this.logger.warn(`outbox worker: ${error.code} ${error.message}`))
    this.worker.start()
  }

  async beforeApplicationShutdown(): Promise<void> {
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
        provide: SearchLifecycle,
        useFactory: (r: Resolved) => new SearchLifecycle(r, indexes),
        inject: [RESOLVED],
      },
      ...repositories,
    ],
    exports: [
      AYALA_SEARCH_CLIENT,
      AYALA_SEARCH_OUTBOX,
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
    return build({ indexes, isGlobal }, { provide: RESOLVED, useFactory: () => resolve(config) }, [])
  }

  /** Register the module with a configuration built by a factory. */
  static forRootAsync(options: SearchModuleAsyncOptions): DynamicModule {
    if (typeof options?.useFactory !== 'function')
      throw new InvalidOptionError('useFactory', 'expected a function')
    return build(
      options,
      {
        provide: RESOLVED,
        useFactory: async (...args: unknown[]) => resolve(await options.useFactory(...args)),
        inject: options.inject ?? [],
      },
      options.imports,
    )
  }
}

/** The repository type of a definition: `SearchRepositoryOf<typeof invoices>`. */
export type SearchRepositoryOf<D extends { readonly fields: FieldMap }> = SearchRepository<D['fields']>
