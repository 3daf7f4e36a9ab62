/**
 * The scheduled reconcile of one index: {@link Reconciler} runs `reconcile()` on demand or every
 * `interval`, never two runs at once (a run asked for while one is in progress joins it), keeps
 * the figures (the drift gauge) and emits `reconciled`, `drift` and `error`. With
 * `onMissing: 'report'` a missing index is reported (a dry run) instead of recreated.
 */
import { EventEmitter } from 'node:events'
import { type Duration, toMs } from '../duration.js'
import { SearchError } from '../errors.js'
import type { FieldMap } from '../schema/fields.js'
import { indexExists } from './index-exists.js'
import { type ReconcileOptions, type ResolvedReconcileOptions, resolveReconcileOptions } from './options.js'
import { runReconcile } from './reconcile.js'
import type { ReconcileReport } from './types.js'

/** Options of {@link createReconciler}: one reconcile's options plus the schedule. */
export interface ReconcilerOptions<F extends FieldMap> extends ReconcileOptions<F> {
  /** Run every `interval` after {@link Reconciler.start} (ms or `'10m'`); absent: only on demand. */
  interval?: Duration | undefined
  /**
   * When the index does not exist: `backfill` creates it from the definition and indexes every
   * row; `report` only reports it (`state: 'missing'`, drift = the rows). @default 'backfill'
   */
  onMissing?: 'backfill' | 'report' | undefined
}

/** Figures of a {@link Reconciler} (the drift gauge is `drift`). */
export interface ReconcilerStats {
  /** Runs completed. */
  runs: number
  /** Runs that failed. */
  failedRuns: number
  /** Drift found by the last run (`missing + extra + stale`, before its repair), 0 before the first. */
  drift: number
  /** Drift left after the last run's repair. */
  remaining: number
  /** Documents found ahead of their row by the last run. */
  ahead: number
  /** Documents repaired since creation (indexed + deleted). */
  repaired: number
  /**
   * `ok`: after the last run the index equals the database (drift found was repaired);
   * `drift`: drift remains (a dry run, or repairs the engine rejected); `missing`: the index does
   * not exist (with `onMissing: 'report'`); `unknown`: no run yet, or the last one failed.
   */
  state: 'ok' | 'drift' | 'missing' | 'unknown'
  /** The last report. */
  last: ReconcileReport | undefined
  /** The last run's error, when it failed. */
  lastError: SearchError | undefined
  /** When the last run ended (ms since the epoch). */
  lastRunAt: number | undefined
}

/**
 * Runs {@link reconcile} for one index on demand or on a schedule, keeps the figures and emits
 * `reconciled` (every report), `drift` (a report with drift or a missing index) and `error`.
 * Runs never overlap: a run asked for while one is in progress joins it.
 */
export class Reconciler<F extends FieldMap> extends EventEmitter<{
  reconciled: [ReconcileReport]
  drift: [ReconcileReport]
  error: [SearchError]
}> {
  readonly #options: Readonly<ResolvedReconcileOptions<F>>
  readonly #intervalMs: number | undefined
  readonly #onMissing: 'backfill' | 'report'
  readonly #stats: ReconcilerStats = {
    runs: 0,
    failedRuns: 0,
    drift: 0,
    remaining: 0,
    ahead: 0,
    repaired: 0,
    state: 'unknown',
    last: undefined,
    lastError: undefined,
    lastRunAt: undefined,
  }
  #running: Promise<ReconcileReport> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(options: ReconcilerOptions<F>) {
    super()
    this.#options = resolveReconcileOptions(options, 'createReconciler')
    this.#intervalMs = options.interval === undefined ? undefined : toMs(options.interval, 'interval')
    if (this.#intervalMs !== undefined && this.#intervalMs < 1)
      throw new SearchError('E_SEARCH_INVALID_OPTION', 'interval must be at least 1 ms')
    const onMissing = options.onMissing ?? 'backfill'
    if (onMissing !== 'backfill' && onMissing !== 'report')
      throw new SearchError('E_SEARCH_INVALID_OPTION', `onMissing must be 'backfill' or 'report'`)
    this.#onMissing = onMissing
  }

  /** The index compared. */
  get index(): string {
    return this.#options.index
  }

  /** Current figures. */
  stats(): Readonly<ReconcilerStats> {
    return { ...this.#stats }
  }

  /** Run once now (or join the run in progress). */
  run(): Promise<ReconcileReport> {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined
    })
    return this.#running
  }

  async #run(): Promise<ReconcileReport> {
    const stats = this.#stats
    try {
      let options = this.#options
      if (this.#onMissing === 'report') {
        const client = await options.search.raw()
        if (!(await indexExists(client, options.index))) options = Object.freeze({ ...options, dryRun: true })
      }
      const report = await runReconcile(options)
      stats.runs++
      stats.drift = report.drift
      stats.remaining = report.remaining
      stats.ahead = report.ahead
      stats.repaired += report.repaired.indexed + report.repaired.deleted
      stats.state = !report.indexExisted && options.dryRun ? 'missing' : report.remaining > 0 ? 'drift' : 'ok'
      stats.last = report
      stats.lastError = undefined
      stats.lastRunAt = Date.now()
      this.emit('reconciled', report)
      if (report.drift > 0 || !report.indexExisted) this.emit('drift', report)
      return report
    } catch (error) {
      const wrapped =
        error instanceof SearchError
          ? error
          : new SearchError('E_SEARCH_RECONCILE', `Reconcile failed: ${String(error)}`, { cause: error })
      stats.failedRuns++
      stats.state = 'unknown'
      stats.lastError = wrapped
      stats.lastRunAt = Date.now()
      if (this.listenerCount('error') > 0) this.emit('error', wrapped)
      throw wrapped
    }
  }

  /** Run every `interval` (the first run after one interval) until {@link stop}. Failures are emitted as `error`. */
  start(): void {
    if (this.#timer !== undefined || this.#intervalMs === undefined) return
    this.#timer = setInterval(() => {
      this.run().catch(() => {
        // Counted in stats().failedRuns and emitted as `error` by #run.
      })
    }, this.#intervalMs)
    this.#timer.unref()
  }

  /** Stop the schedule and wait for a run in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    await this.#running?.catch(() => undefined)
  }
}

/** A reconciler for one index (see {@link Reconciler}). */
export function createReconciler<F extends FieldMap>(options: ReconcilerOptions<F>): Reconciler<F> {
  return new Reconciler(options)
}
