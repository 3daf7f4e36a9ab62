/**
 * A typed repository over one index definition: the search client's calls with the definition
 * bound, plus the outbox writes that keep the index in step with the database (enqueued in the
 * caller's transaction, applied by the outbox worker the module runs).
 */
import type {
  AggMap,
  BulkOptions,
  CompletionFields,
  DocumentOfFields,
  Duration,
  FieldMap,
  GetOptions,
  IndexDefinition,
  Outbox,
  PageRequest,
  QueryHelpers,
  SearchClient,
  SearchRequest,
  SqlExecutor,
} from '@ayala/search'
import { AyalaNestError } from '../errors.js'

/** Injectable, typed access to one index. Get it with `@InjectSearchRepository(definition)`. */
export class SearchRepository<F extends FieldMap> {
  constructor(
    /** The module's search client. */
    readonly client: SearchClient,
    /** The index definition. */
    readonly definition: IndexDefinition<F>,
    private readonly outbox: Outbox | undefined,
  ) {}

  /** The definition's typed query helpers. */
  get q(): QueryHelpers<F> {
    return this.definition.q
  }

  /**
   * Typed search (see `SearchClient.search`): bounded by `request.timeout` or the client's
   * `searchTimeout` (1 s); `request.fallback` answers when the engine cannot (the result then
   * has `degraded` set), otherwise the call rejects with `E_SEARCH_UNAVAILABLE`, which
   * `SearchErrorFilter` answers with 503.
   */
  search<const A extends AggMap<F> = Record<never, never>>(request: SearchRequest<F, A> = {}) {
    return this.client.search<F, A>(this.definition, request)
  }

  /**
   * One document by id, or null (see `SearchClient.get`): bounded like `search`, answered by
   * `options.fallback` (then `degraded` is set) when the engine cannot.
   */
  get(id: string, options: GetOptions<DocumentOfFields<F>> = {}) {
    return this.client.get<F>(this.definition, id, options)
  }

  /** One page of deep pagination (see `SearchClient.searchPage`). */
  searchPage(request: PageRequest<F> = {}) {
    return this.client.searchPage<F>(this.definition, request)
  }

  /** Every matching document through a point in time (see `SearchClient.scan`). */
  scan(request: Omit<PageRequest<F>, 'cursor'> = {}) {
    return this.client.scan<F>(this.definition, request)
  }

  /** Completion-suggester type-ahead (see `SearchClient.suggest`). */
  suggest(
    field: CompletionFields<F>,
    prefix: string,
    options: { size?: number | undefined; timeout?: Duration | undefined } = {},
  ) {
    return this.client.suggest<F>(this.definition, field, prefix, options)
  }

  /** Bulk-index documents (see `SearchClient.bulk`). */
  bulk(
    source: AsyncIterable<DocumentOfFields<F>> | Iterable<DocumentOfFields<F>>,
    options: Partial<BulkOptions<DocumentOfFields<F>, unknown>> = {},
  ) {
    return this.client.bulk<F>(this.definition, source, options)
  }

  /** Make recent writes searchable now (tests, admin tools). */
  refresh(): Promise<void> {
    return this.client.refresh(this.definition.name)
  }

  /**
   * Record, in the caller's transaction `tx`, that `document` (at `version`, e.g. the row's
   * version column) must be indexed; the outbox worker applies it after the commit.
   */
  enqueueUpsert(tx: SqlExecutor, document: DocumentOfFields<F>, version: number): Promise<void> {
    return this.requireOutbox().enqueue(tx, {
      op: 'upsert',
      index: this.definition.name,
      id: this.definition.idOf(document),
      version,
      document,
    })
  }

  /** Record, in `tx`, that document `id` must be removed from the index (at `version`). */
  enqueueDelete(tx: SqlExecutor, id: string, version: number): Promise<void> {
    return this.requireOutbox().enqueue(tx, { op: 'delete', index: this.definition.name, id, version })
  }

  private requireOutbox(): Outbox {
    if (this.outbox === undefined) {
      throw new AyalaNestError(
        'E_NEST_INVALID_OPTION',
        `index "${this.definition.name}": no outbox configured (give AyalaSearchModule the \`outbox\` option)`,
        { option: 'outbox' },
      )
    }
    return this.outbox
  }
}
