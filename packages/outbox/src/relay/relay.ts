/**
 * The relay: delivers recorded effects to their sinks, at least once, for as long as it takes.
 *
 * Mechanism, per sink (each sink has its own loop, so a sink that is down never delays another):
 *
 * 1. Claim (`claim.ts`): the sink's oldest deliverable rows, stamped with this relay's id and a
 *    lease, in one short transaction that commits before anything is delivered.
 * 2. Deliver the batch (`deliver.ts`, bounded by `deliveryTimeout`, then aborted).
 * 3. Settle (`settle.ts`), each statement guarded by `claimed_by = <this relay>`: delivered rows
 *    are deleted; `retry` outcomes wait a backoff; `rejected` outcomes become dead letters. A batch
 *    that failed as a whole is released and the loop backs off that sink.
 * 4. An effect still failing transiently after `maxAge` (counted from its commit, or from its
 *    replay) becomes a dead letter: "retried for hours", not "five attempts in half a second".
 *
 * `pass.ts` chains 1-3 for one batch; this facade owns the loops, their backoff and wake-ups, and
 * the public methods. The mechanisms share one {@link RelayState} (`state.ts`).
 *
 * A relay that crashes between 2 and 3 leaves rows whose lease expires; another relay (or this
 * one restarted) delivers them again. Sinks are idempotent for that reason (external versions,
 * rising tag versions, entity versions in Kafka records). Several relays may run side by side
 * (one per application instance): they share the work through SKIP LOCKED and the leases.
 */
import { EventEmitter } from 'node:events'
import { OutboxError } from '../errors.js'
import type { OutboxSink } from '../sinks/sink.js'
import { toTransactor } from '../sql/runner.js'
import { releaseOwnClaims } from './claim.js'
import { type RelayHealth, relayHealth } from './health.js'
import { type OutboxRelayOptions, resolveRelayOptions } from './options.js'
import { runPass } from './pass.js'
import {
  newStats,
  type OutboxRelayEvents,
  type RelayPass,
  type RelayState,
  type RelayTable,
  type SinkStats,
  sqlError,
} from './state.js'

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((done) => {
    if (signal.aborted) return done()
    const timer = setTimeout(finish, ms)
    function finish() {
      clearTimeout(timer)
      signal.removeEventListener('abort', finish)
      done()
    }
    signal.addEventListener('abort', finish, { once: true })
  })

/** A relay over one outbox table. Create with {@link Outbox.relay}; `start()` runs it in the background. */
export class OutboxRelay extends EventEmitter<OutboxRelayEvents> {
  readonly #state: RelayState
  #loops: Promise<void>[] = []
  #stop = new AbortController()
  /** Aborted to cut the current poll wait short; replaced after each wake. */
  #wake = new AbortController()
  #running = false

  /**
   * @param table the outbox whose table the relay delivers (an `Outbox`; the relay uses its
   * dialect and statements only)
   */
  constructor(table: RelayTable, options: OutboxRelayOptions) {
    super()
    const resolved = resolveRelayOptions(options)
    const sinks = new Map(Object.entries(options.sinks) as Array<[string, OutboxSink<unknown>]>)
    const stats = new Map<string, SinkStats>()
    for (const name of sinks.keys()) stats.set(name, newStats())
    this.#state = Object.freeze({
      options: resolved,
      sql: table.sql,
      db: toTransactor(options.db, table.dialect),
      sinks,
      stats,
      events: this,
    })
  }

  /** This relay's id (its `claimed_by`). */
  get id(): string {
    return this.#state.options.id
  }

  /** Whether the background loops run. */
  get running(): boolean {
    return this.#running
  }

  /**
   * Start one background loop per sink. Failures are emitted as `error` and retried with backoff.
   * First, the leases held under this relay's id (by a previous incarnation that crashed) are
   * released, so that batch is delivered now rather than after `claimTimeout`.
   */
  start(): void {
    if (this.#running) return
    this.#running = true
    this.#stop = new AbortController()
    const recovered = releaseOwnClaims(this.#state)
    this.#loops = [...this.#state.sinks.keys()].map(async (name) => {
      await recovered
      await this.#loop(name)
    })
  }

  /** Stop the loops after their current pass (a delivery in flight is aborted). */
  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    this.#stop.abort()
    await Promise.all(this.#loops)
    this.#loops = []
  }

  /**
   * Deliver what is pending now instead of at the next poll: call it after a write committed, for
   * latency (the poll is the guarantee).
   */
  wake(): void {
    const current = this.#wake
    this.#wake = new AbortController()
    current.abort()
  }

  /** Counters per sink since start (copies). */
  stats(): Record<string, SinkStats> {
    const out: Record<string, SinkStats> = {}
    for (const [name, stats] of this.#state.stats) out[name] = { ...stats }
    return out
  }

  /**
   * Health: per sink, the backlog (from the table) and the relay's own failures. `down` when the
   * table cannot be read, or a sink's oldest pending effect is older than `downAfter`; `degraded`
   * when it is older than `degradedAfter`, when the sink is failing now, or when it has dead letters.
   */
  health(): Promise<RelayHealth> {
    return relayHealth(this.#state)
  }

  /**
   * One claim-and-deliver pass of `sink` (or of every sink). Throws (retriable `OutboxError`) when
   * the table cannot be reached or the sink failed as a whole; its batch is then released.
   */
  async drainOnce(sink?: string | undefined): Promise<RelayPass[]> {
    const names = sink === undefined ? [...this.#state.sinks.keys()] : [this.#requireSink(sink)]
    const passes: RelayPass[] = []
    for (const name of names) passes.push(await runPass(this.#state, name, this.#stop.signal))
    return passes
  }

  /** Pass after pass until no sink has anything deliverable now (retries waiting a backoff excluded). */
  async drainAll(): Promise<RelayPass[]> {
    const totals = new Map<string, RelayPass>()
    for (const name of this.#state.sinks.keys()) {
      const total = { sink: name, claimed: 0, delivered: 0, retried: 0, deadLettered: 0 }
      totals.set(name, total)
      for (;;) {
        const pass = await runPass(this.#state, name, this.#stop.signal)
        total.claimed += pass.claimed
        total.delivered += pass.delivered
        total.retried += pass.retried
        total.deadLettered += pass.deadLettered
        if (pass.claimed < this.#state.options.batchSize) break
      }
    }
    return [...totals.values()]
  }

  #requireSink(name: string): string {
    if (!this.#state.sinks.has(name)) {
      throw new OutboxError('E_OUTBOX_UNKNOWN_SINK', `this relay has no sink "${name}"`, { sink: name })
    }
    return name
  }

  async #loop(name: string): Promise<void> {
    const o = this.#state.options
    const stop = this.#stop.signal
    const stats = this.#state.stats.get(name) as SinkStats
    while (!stop.aborted) {
      let wait = o.pollMs
      try {
        const pass = await runPass(this.#state, name, stop)
        if (pass.claimed === o.batchSize) wait = 0
      } catch (error) {
        if (stop.aborted) break
        // Full jitter: relays that failed together do not retry together.
        wait =
          Math.random() *
          Math.min(o.maxRetryDelayMs, o.retryDelayMs * 2 ** Math.min(stats.consecutiveFailures, 30))
        const wrapped = sqlError(error, name)
        if (this.listenerCount('error') > 0) this.emit('error', wrapped)
      }
      if (wait > 0 && !stop.aborted) await sleep(wait, AbortSignal.any([stop, this.#wake.signal]))
    }
  }
}
