/**
 * The search outbox's worker: drain passes ({@link drainOnce}) one after the other, in the
 * background or on demand, with the figures kept and the failures told.
 *
 * Backoff: a pass that fails as a whole (engine unreachable, database error) or that the engine
 * answers with transient refusals only counts as a failure in a row; the next pass waits a full
 * jitter backoff, `random(0, min(maxRetryDelay, max(pollInterval, 50 ms) * 2^failures))`, so a
 * blocked or unreachable engine is retried ever less often and many workers do not retry in step.
 * A pass the engine accepts resets the count; a full batch is followed by the next pass at once,
 * an empty or short one by `pollInterval`. `stop()` wakes a waiting loop and waits for the pass in
 * progress.
 */
import { EventEmitter } from 'node:events'
import { engineError } from '../engine/engine-error.js'
import { SearchError } from '../errors.js'
import { type DrainResult, type DrainState, drainOnce } from './outbox-drain.js'
import {
  type OutboxWorkerOptions,
  type ResolvedOutboxWorkerOptions,
  resolveOutboxWorkerOptions,
} from './outbox-options.js'
import type { DeadLetter, OutboxTable } from './outbox-table.js'

/** Cumulative figures of a worker since it was created (see {@link OutboxWorker.stats}). */
export interface OutboxWorkerStats {
  /** Events applied. */
  applied: number
  /** Events found stale (the index held a newer version). */
  stale: number
  /** Permanent rejections counted. */
  rejected: number
  /** Transient refusals of single events (each one retried later). */
  retried: number
  /** Events that became dead letters. */
  deadLettered: number
  /** Drain passes that failed as a whole (engine unreachable, database error). */
  failedPasses: number
  /** Passes in a row that ended in a failure or a transient refusal (0 once the engine accepts again). */
  consecutiveFailures: number
  /** The last failure or refusal, until a pass succeeds. */
  lastError: string | undefined
}

/** Payload of the worker's `retry` event: a pass the engine refused, the wait before the next. */
export interface OutboxRetryEvent {
  /** Events refused for now in this pass (0 when the request failed as a whole). */
  events: number
  /** Passes in a row that failed or were refused. */
  consecutiveFailures: number
  /** Wait before the next pass, in ms. */
  delayMs: number
  /** The engine's answer. */
  error: string
}

/**
 * Drains an outbox into the engine. Events: `drained` after each non-empty pass, `retry` when a
 * pass failed or the engine refused events for now (with the wait before the next pass),
 * `dead-letter` for each event that became one, `error` when a pass fails (the worker continues).
 */
export class OutboxWorker extends EventEmitter<{
  drained: [DrainResult]
  retry: [OutboxRetryEvent]
  'dead-letter': [DeadLetter]
  error: [SearchError]
}> {
  readonly #options: ResolvedOutboxWorkerOptions
  readonly #stats: OutboxWorkerStats = {
    applied: 0,
    stale: 0,
    rejected: 0,
    retried: 0,
    deadLettered: 0,
    failedPasses: 0,
    consecutiveFailures: 0,
    lastError: undefined,
  }
  readonly #drain: DrainState
  #running: Promise<void> | undefined
  #stopping = false
  #wake: (() => void) | undefined

  constructor(outbox: OutboxTable, options: OutboxWorkerOptions) {
    super()
    this.#options = resolveOutboxWorkerOptions(options)
    const stats = this.#stats
    this.#drain = {
      options: this.#options,
      table: outbox.table,
      record: (result, dead) => {
        stats.applied += result.applied
        stats.stale += result.stale
        stats.rejected += result.rejected
        stats.retried += result.retried
        stats.deadLettered += result.deadLettered
        if (this.listenerCount('dead-letter') > 0) for (const letter of dead) this.emit('dead-letter', letter)
      },
      refused: (error) => {
        stats.lastError = error
      },
    }
  }

  /**
   * The `retries` of a permanently rejected event before this worker dead-letters it (give it to
   * `outbox.lag()` / `deadLetters()`).
   */
  get retries(): number {
    return this.#options.retries
  }

  /**
   * @deprecated Use {@link OutboxWorker.retries}: the same limit counted the old way
   * (`retries + 1`, the attempts at which an event is a dead letter).
   */
  get maxAttempts(): number {
    return this.#options.maxAttempts
  }

  /** Cumulative figures since the worker was created. */
  stats(): Readonly<OutboxWorkerStats> {
    return { ...this.#stats }
  }

  /**
   * Claim and apply one batch. Throws `E_SEARCH_ENGINE` (retriable) when the engine cannot be
   * reached; the batch then stays in the outbox (events past `maxAge` become dead letters).
   */
  drainOnce(): Promise<DrainResult> {
    return drainOnce(this.#drain)
  }

  /**
   * Drain until the outbox is empty (dead letters excluded), or until the engine refuses events
   * for now (the result's `retried` then says how many wait; call again later).
   */
  async drainAll(): Promise<DrainResult> {
    const total: DrainResult = { claimed: 0, applied: 0, stale: 0, rejected: 0, retried: 0, deadLettered: 0 }
    for (;;) {
      const pass = await this.drainOnce()
      total.claimed += pass.claimed
      total.applied += pass.applied
      total.stale += pass.stale
      total.rejected += pass.rejected
      total.retried += pass.retried
      total.deadLettered += pass.deadLettered
      if (pass.retried > 0) return total
      if (pass.claimed < this.#options.batchSize && pass.rejected === 0) return total
    }
  }

  /** Run in the background until {@link stop}. Failures are emitted as `error` and retried with backoff. */
  start(): void {
    if (this.#running) return
    this.#stopping = false
    this.#running = this.#loop()
  }

  #backoff(): number {
    const { maxRetryDelayMs, pollMs } = this.#options
    return (
      Math.random() * Math.min(maxRetryDelayMs, Math.max(pollMs, 50) * 2 ** this.#stats.consecutiveFailures)
    )
  }

  async #loop(): Promise<void> {
    const stats = this.#stats
    while (!this.#stopping) {
      let wait = this.#options.pollMs
      try {
        const result = await this.drainOnce()
        if (result.claimed > 0) this.emit('drained', result)
        if (result.retried > 0) {
          // The engine answered but refuses for now (a write block, 429s): back off as if down.
          stats.consecutiveFailures++
          wait = this.#backoff()
          if (this.listenerCount('retry') > 0)
            this.emit('retry', {
              events: result.retried,
              consecutiveFailures: stats.consecutiveFailures,
              delayMs: wait,
              error: stats.lastError ?? 'retry',
            })
        } else {
          stats.consecutiveFailures = 0
          stats.lastError = undefined
          if (result.claimed === this.#options.batchSize) wait = 0
        }
      } catch (error) {
        stats.failedPasses++
        stats.consecutiveFailures++
        wait = this.#backoff()
        const wrapped = error instanceof SearchError ? error : engineError(error)
        stats.lastError = wrapped.message
        if (this.listenerCount('retry') > 0)
          this.emit('retry', {
            events: 0,
            consecutiveFailures: stats.consecutiveFailures,
            delayMs: wait,
            error: wrapped.message,
          })
        if (this.listenerCount('error') > 0) this.emit('error', wrapped)
      }
      if (wait > 0 && !this.#stopping) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait)
          this.#wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        this.#wake = undefined
      }
    }
  }

  /** Stop the background loop after the current pass. */
  async stop(): Promise<void> {
    this.#stopping = true
    this.#wake?.()
    await this.#running
    this.#running = undefined
  }
}
