/**
 * Whether the search copies are in step with the database, in one place: the outbox's backlog
 * and dead letters, each index's existence (asked of the engine at every call) and what its
 * start-up check and last reconcile found. `AyalaSearchModule` fills it; the health indicator
 * (`SearchHealthIndicator.syncCheck`) and your own endpoints read it with {@link SearchSync.status}.
 */
import type {
  EnsureIndexResult,
  Outbox,
  OutboxWorker,
  Reconciler,
  SearchClient,
  SqlExecutor,
} from '@ayala/search'

/** The outbox part of {@link SearchSyncStatus}. */
export interface SearchSyncOutboxStatus {
  /** Events waiting (dead letters excluded). */
  pending: number
  /** Age of the oldest waiting event in ms (database clock), or null when none. */
  oldestAgeMs: number | null
  /** Dead letters kept in the table. */
  dead: number
  /** Transient refusals retried by this application's worker since start. */
  retried: number
  /** Events this application's worker dead-lettered since start. */
  deadLettered: number
  /** Passes in a row the engine refused or failed (0 when it accepts). */
  consecutiveFailures: number
  /** The engine's last refusal, until it accepts again. */
  lastError: string | undefined
}

/** One index in {@link SearchSyncStatus}. */
export interface SearchSyncIndexStatus {
  /** Index (or alias) name. */
  index: string
  /** Whether the engine has it now. */
  exists: boolean
  /**
   * `ok`; `drift`: the last reconcile left differences (a dry run, rejected repairs);
   * `empty`: at start-up it was missing or empty while the table had rows, and it was only
   * reported; `missing`: it does not exist; `unknown`: not checked yet, or the last check failed.
   */
  state: 'ok' | 'drift' | 'empty' | 'missing' | 'unknown'
  /** Documents the last reconcile found different (before repair). */
  drift: number
  /** Differences left after it. */
  remaining: number
  /** Documents repaired since start (start-up backfill included). */
  repaired: number
  /** When the last reconcile ended (ms since the epoch). */
  lastRunAt: number | undefined
  /** The last reconcile's error message, when it failed. */
  lastError: string | undefined
}

/** What {@link SearchSync.status} returns. */
export interface SearchSyncStatus {
  /** The outbox, when the module has one. */
  outbox: SearchSyncOutboxStatus | undefined
  /** Every index of the module. */
  indexes: SearchSyncIndexStatus[]
}

/** The sync state of the module's indexes and outbox. Inject with `@InjectSearchSync()`. */
export class SearchSync {
  private worker: OutboxWorker | undefined
  private readonly startup = new Map<string, EnsureIndexResult>()
  private readonly reconcilers = new Map<string, Reconciler<any>>()

  constructor(
    private readonly client: SearchClient,
    private readonly indexNames: readonly string[],
    private readonly outbox: Outbox | undefined,
    private readonly db: SqlExecutor | undefined,
  ) {}

  /** @internal The worker running in this application. */
  attachWorker(worker: OutboxWorker | undefined): void {
    this.worker = worker
  }

  /** @internal The start-up check of an index. */
  recordStartup(result: EnsureIndexResult): void {
    this.startup.set(result.index, result)
  }

  /** @internal The reconciler of an index. */
  attachReconciler(reconciler: Reconciler<any>): void {
    this.reconcilers.set(reconciler.index, reconciler)
  }

  /** The reconciler of `index`, when the module runs one (to run it on demand: `reconciler(i)?.run()`). */
  reconciler(index: string): Reconciler<any> | undefined {
    return this.reconcilers.get(index)
  }

  /** Read the current state (one `lag()` query and one existence check per index). */
  async status(): Promise<SearchSyncStatus> {
    let outbox: SearchSyncOutboxStatus | undefined
    if (this.outbox !== undefined && this.db !== undefined) {
      const retries = this.worker?.retries
      const lag = await this.outbox.lag(this.db, { retries })
      const stats = this.worker?.stats()
      outbox = {
        ...lag,
        retried: stats?.retried ?? 0,
        deadLettered: stats?.deadLettered ?? 0,
        consecutiveFailures: stats?.consecutiveFailures ?? 0,
        lastError: stats?.lastError,
      }
    }
    const raw = await this.client.raw()
    const indexes: SearchSyncIndexStatus[] = []
    for (const index of this.indexNames) {
      const exists = await raw.indices.exists({ index })
      const reconciler = this.reconcilers.get(index)?.stats()
      const startup = this.startup.get(index)
      let state: SearchSyncIndexStatus['state'] = 'unknown'
      if (!exists) state = 'missing'
      else if (reconciler !== undefined && reconciler.runs + reconciler.failedRuns > 0)
        state = reconciler.lastError === undefined ? reconciler.state : 'unknown'
      else if (startup !== undefined) state = startup.state === 'empty' ? 'empty' : 'ok'
      else state = 'ok'
      indexes.push({
        index,
        exists,
        state,
        drift: reconciler?.drift ?? 0,
        remaining: reconciler?.remaining ?? 0,
        repaired:
          (reconciler?.repaired ?? 0) +
          (startup?.report ? startup.report.repaired.indexed + startup.report.repaired.deleted : 0),
        lastRunAt: reconciler?.lastRunAt,
        lastError: reconciler?.lastError?.message,
      })
    }
    return { outbox, indexes }
  }
}
