/**
 * The relay: delivers recorded effects to their sinks, at least once, for as long as it takes.
 *
 * Mechanism, per sink (each sink has its own loop, so a sink that is down never delays another):
 *
 * 1. Claim. In one short READ COMMITTED transaction, select the sink's oldest deliverable rows
 *    (`FOR UPDATE SKIP LOCKED`: rows of writers still in flight, and rows another relay is claiming,
 *    are skipped, never waited for) and stamp them with this relay's id and a lease
 *    (`claimTimeout`). The transaction commits before anything is delivered: no database lock or
 *    pooled connection is held while a sink is slow or hung.
 * 2. Deliver the batch (bounded by `deliveryTimeout`, then aborted).
 * 3. Settle, each statement guarded by `claimed_by = <this relay>`: delivered rows are deleted;
 *    `retry` outcomes get `attempts + 1`, `last_error` and an `available_at` after an exponential
 *    backoff; `rejected` outcomes become dead letters. A batch that failed as a whole (the sink
 *    threw: unreachable) is released for the next attempt and the loop backs off that sink.
 * 4. An effect still failing transiently after `maxAge` (counted from its commit, or from its
 *    replay) becomes a dead letter: "retried for hours", not "five attempts in half a second".
 *
 * A relay that crashes between 2 and 3 leaves rows whose lease expires; another relay (or this
 * one restarted) delivers them again. Sinks are idempotent for that reason (external versions,
 * rising tag versions, entity versions in Kafka records). Several relays may run side by side
 * (one per application instance): they share the work through SKIP LOCKED and the leases.
 */
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import { type Duration, toMs } from './duration.js'
import { describeError, OutboxError } from './errors.js'
import type { Outbox, OutboxLag } from './outbox.js'
import type { DeliveryOutcome, OutboxDelivery, OutboxSink } from './sinks/sink.js'
import { type SqlPool, type SqlRow, type SqlTransactor, toTransactor } from './sql/runner.js'

/** Options of {@link Outbox.relay}. */
export interface OutboxRelayOptions {
  /** Pool (mariadb/mysql2/pg) or Prisma client the relay reads the table with. */
  db: SqlPool
  /** The sinks, by the names effects were recorded with (`search`, `kafka`, `cache`, ...). */
  sinks: Readonly<Record<string, OutboxSink<never>>>
  /** Effects per claim. @default 200 */
  batchSize?: number | undefined
  /** Wait between polls of a sink with nothing to deliver. @default '250ms' */
  pollInterval?: Duration | undefined
  /** First backoff after a failure; doubles up to `maxRetryDelay` (with full jitter). @default '500ms' */
  retryDelay?: Duration | undefined
  /** Longest backoff. @default '30s' */
  maxRetryDelay?: Duration | undefined
  /**
   * How long an effect may keep failing transiently (sink down, engine blocked) before it becomes a
   * dead letter, counted from its commit (or its replay). @default '6h'
   */
  maxAge?: Duration | undefined
  /** Longest time one batch delivery may take; then it is aborted and retried. @default '30s' */
  deliveryTimeout?: Duration | undefined
  /**
   * Lease of a claimed batch: after this, a crashed relay's batch is delivered by another. Must
   * exceed `deliveryTimeout`. @default '2m'
   */
  claimTimeout?: Duration | undefined
  /** Oldest pending effect older than this: health `degraded`. @default '30s' */
  degradedAfter?: Duration | undefined
  /** Oldest pending effect older than this: health `down`. @default '10m' */
  downAfter?: Duration | undefined
  /**
   * This relay's id in `claimed_by` (at most 64 characters). Give each instance a stable id (its
   * pod or host name and port): a relay restarted after a crash then takes back the batch its
   * previous incarnation had claimed at once, instead of waiting for `claimTimeout`. Two live
   * relays must never share an id. @default `<hostname>:<pid>:<random>`
   */
  id?: string | undefined
}

/** Defaults of {@link OutboxRelayOptions}. */
export const DEFAULT_OUTBOX_RELAY_OPTIONS = Object.freeze({
  batchSize: 200,
  pollInterval: '250ms' as Duration,
  retryDelay: '500ms' as Duration,
  maxRetryDelay: '30s' as Duration,
  maxAge: '6h' as Duration,
  deliveryTimeout: '30s' as Duration,
  claimTimeout: '2m' as Duration,
  degradedAfter: '30s' as Duration,
  downAfter: '10m' as Duration,
})

const RELAY_KEYS = new Set(['db', 'sinks', ...Object.keys(DEFAULT_OUTBOX_RELAY_OPTIONS), 'id'])

/** Counters of one sink since the relay started. */
export interface SinkStats {
  /** Effects delivered. */
  delivered: number
  /** Effect deliveries that failed transiently (each will be tried again). */
  retried: number
  /** Effects made dead letters (rejected, malformed, or past `maxAge`). */
  deadLettered: number
  /** Batches that failed as a whole (sink unreachable, timeout, database error). */
  failedBatches: number
  /** Failed passes in a row (0 once a pass succeeds). */
  consecutiveFailures: number
  /** The last failure, or null. */
  lastError: string | null
  /** When the last effect was delivered (ms epoch), or null. */
  lastDeliveredAt: number | null
}

/** Result of one claim-and-deliver pass of one sink. */
export interface RelayPass {
  sink: string
  claimed: number
  delivered: number
  retried: number
  deadLettered: number
}

/** Health of one sink. */
export interface SinkHealth extends OutboxLag {
  status: 'up' | 'degraded' | 'down'
  /** Why it is not `up`. */
  reasons: string[]
  consecutiveFailures: number
  lastError: string | null
}

/** Health of the relay: the worst of its sinks, and the database. */
export interface RelayHealth {
  status: 'up' | 'degraded' | 'down'
  /** Why it is not `up`, worst first. */
  reasons: string[]
  sinks: Record<string, SinkHealth>
}

/** Events of {@link OutboxRelay}. */
export interface OutboxRelayEvents {
  /** A pass delivered effects. */
  delivered: [RelayPass]
  /** A batch or an effect failed transiently and will be retried. */
  retry: [{ sink: string; count: number; error: OutboxError }]
  /** An effect became a dead letter. */
  dead: [{ sink: string; seq: number; error: string }]
  /** A pass failed (database unreachable, sink threw): the loop backs off. */
  error: [OutboxError]
}

interface Resolved {
  readonly batchSize: number
  readonly pollMs: number
  readonly retryDelayMs: number
  readonly maxRetryDelayMs: number
  readonly maxAgeUs: number
  readonly deliveryTimeoutMs: number
  readonly claimTimeoutMs: number
  readonly degradedAfterMs: number
  readonly downAfterMs: number
  readonly id: string
}

interface Claimed {
  seq: number
  payload: string
  attempts: number
  ageUs: number
}

function resolve(options: OutboxRelayOptions): Resolved {
  if (options === null || typeof options !== 'object') {
    throw new OutboxError('E_OUTBOX_INVALID_OPTION', 'relay options must be an object')
  }
  const unknown = Object.keys(options).filter((key) => !RELAY_KEYS.has(key))
  if (unknown.length > 0) {
    throw new OutboxError('E_OUTBOX_INVALID_OPTION', `unknown relay option(s): ${unknown.join(', ')}`)
  }
  const d = DEFAULT_OUTBOX_RELAY_OPTIONS
  const batchSize = options.batchSize ?? d.batchSize
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new OutboxError(
      'E_OUTBOX_INVALID_OPTION',
      `batchSize must be an integer in 1..10000, got ${batchSize}`,
    )
  }
  const deliveryTimeoutMs = toMs(options.deliveryTimeout ?? d.deliveryTimeout, 'deliveryTimeout')
  const claimTimeoutMs = toMs(options.claimTimeout ?? d.claimTimeout, 'claimTimeout')
  if (claimTimeoutMs <= deliveryTimeoutMs) {
    throw new OutboxError(
      'E_OUTBOX_INVALID_OPTION',
      `claimTimeout (${claimTimeoutMs} ms) must exceed deliveryTimeout (${deliveryTimeoutMs} ms): a batch still being delivered would be claimed again`,
    )
  }
  const id = options.id ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`
  if (typeof id !== 'string' || id.length === 0 || id.length > 64) {
    throw new OutboxError('E_OUTBOX_INVALID_OPTION', 'id must be a string of 1..64 characters')
  }
  const sinks = options.sinks
  if (sinks === null || typeof sinks !== 'object' || Object.keys(sinks).length === 0) {
    throw new OutboxError('E_OUTBOX_INVALID_OPTION', 'sinks must name at least one sink')
  }
  for (const [name, sink] of Object.entries(sinks)) {
    if (sink === null || typeof sink !== 'object' || typeof sink.deliver !== 'function') {
      throw new OutboxError('E_OUTBOX_INVALID_OPTION', `sink "${name}" has no deliver() method`, {
        sink: name,
      })
    }
  }
  return Object.freeze({
    batchSize,
    pollMs: toMs(options.pollInterval ?? d.pollInterval, 'pollInterval'),
    retryDelayMs: toMs(options.retryDelay ?? d.retryDelay, 'retryDelay'),
    maxRetryDelayMs: toMs(options.maxRetryDelay ?? d.maxRetryDelay, 'maxRetryDelay'),
    maxAgeUs: toMs(options.maxAge ?? d.maxAge, 'maxAge') * 1_000,
    deliveryTimeoutMs,
    claimTimeoutMs,
    degradedAfterMs: toMs(options.degradedAfter ?? d.degradedAfter, 'degradedAfter'),
    downAfterMs: toMs(options.downAfter ?? d.downAfter, 'downAfter'),
    id,
  })
}

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

function newStats(): SinkStats {
  return {
    delivered: 0,
    retried: 0,
    deadLettered: 0,
    failedBatches: 0,
    consecutiveFailures: 0,
    lastError: null,
    lastDeliveredAt: null,
  }
}

function sqlError(error: unknown, sink: string): OutboxError {
  if (error instanceof OutboxError) return error
  return new OutboxError('E_OUTBOX_SQL', `outbox table access failed: ${describeError(error)}`, {
    sink,
    retriable: true,
    cause: error,
  })
}

/** A relay over one outbox table. Create with {@link Outbox.relay}; `start()` runs it in the background. */
export class OutboxRelay extends EventEmitter<OutboxRelayEvents> {
  readonly #outbox: Outbox
  readonly #db: SqlTransactor
  readonly #sinks: ReadonlyMap<string, OutboxSink<unknown>>
  readonly #options: Resolved
  readonly #stats = new Map<string, SinkStats>()
  #loops: Promise<void>[] = []
  #stop = new AbortController()
  /** Aborted to cut the current poll wait short; replaced after each wake. */
  #wake = new AbortController()
  #running = false

  constructor(outbox: Outbox, options: OutboxRelayOptions) {
    super()
    this.#options = resolve(options)
    this.#outbox = outbox
    this.#db = toTransactor(options.db, outbox.dialect)
    this.#sinks = new Map(Object.entries(options.sinks) as Array<[string, OutboxSink<unknown>]>)
    for (const name of this.#sinks.keys()) this.#stats.set(name, newStats())
  }

  /** This relay's id (its `claimed_by`). */
  get id(): string {
    return this.#options.id
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
    const recovered = this.#releaseOwnClaims()
    this.#loops = [...this.#sinks.keys()].map(async (name) => {
      await recovered
      await this.#loop(name)
    })
  }

  async #releaseOwnClaims(): Promise<void> {
    try {
      await this.#db.runner.run(this.#outbox.sql.releaseOwn(), [this.#options.id])
    } catch (error) {
      // The table is unreachable now: the leases expire by themselves; the loops report the outage.
      if (this.listenerCount('error') > 0) this.emit('error', sqlError(error, '*'))
    }
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
    for (const [name, stats] of this.#stats) out[name] = { ...stats }
    return out
  }

  /**
   * Health: per sink, the backlog (from the table) and the relay's own failures. `down` when the
   * table cannot be read, or a sink's oldest pending effect is older than `downAfter`; `degraded`
   * when it is older than `degradedAfter`, when the sink is failing now, or when it has dead letters.
   */
  async health(): Promise<RelayHealth> {
    let lag: Record<string, OutboxLag>
    try {
      lag = await this.#outbox.lag(this.#db.runner)
    } catch (error) {
      const reason = `outbox table unreachable: ${describeError(error)}`
      const sinks: Record<string, SinkHealth> = {}
      for (const [name, stats] of this.#stats) {
        sinks[name] = {
          status: 'down',
          reasons: [reason],
          pending: 0,
          retrying: 0,
          dead: 0,
          oldestAgeMs: null,
          consecutiveFailures: stats.consecutiveFailures,
          lastError: stats.lastError,
        }
      }
      return { status: 'down', reasons: [reason], sinks }
    }
    const o = this.#options
    const sinks: Record<string, SinkHealth> = {}
    const down: string[] = []
    const degraded: string[] = []
    const names = new Set([...this.#stats.keys(), ...Object.keys(lag)])
    for (const name of names) {
      const stats = this.#stats.get(name)
      const backlog = lag[name] ?? { pending: 0, retrying: 0, dead: 0, oldestAgeMs: null }
      const reasons: string[] = []
      let status: SinkHealth['status'] = 'up'
      const age = backlog.oldestAgeMs ?? 0
      if (stats === undefined && backlog.pending > 0) {
        status = 'down'
        reasons.push(`${backlog.pending} effect(s) for sink "${name}", which this relay does not have`)
      } else if (age > o.downAfterMs) {
        status = 'down'
        reasons.push(
          `oldest pending effect is ${Math.round(age / 1_000)} s old (down after ${o.downAfterMs / 1_000} s)`,
        )
      } else {
        if (age > o.degradedAfterMs) {
          reasons.push(`oldest pending effect is ${Math.round(age / 1_000)} s old`)
        }
        if (stats !== undefined && stats.consecutiveFailures > 0) {
          reasons.push(`delivery failing (${stats.consecutiveFailures} in a row): ${stats.lastError}`)
        }
        if (backlog.dead > 0) reasons.push(`${backlog.dead} dead letter(s)`)
        if (reasons.length > 0) status = 'degraded'
      }
      sinks[name] = {
        ...backlog,
        status,
        reasons,
        consecutiveFailures: stats?.consecutiveFailures ?? 0,
        lastError: stats?.lastError ?? null,
      }
      for (const reason of reasons) (status === 'down' ? down : degraded).push(`${name}: ${reason}`)
    }
    const status = down.length > 0 ? 'down' : degraded.length > 0 ? 'degraded' : 'up'
    return { status, reasons: [...down, ...degraded], sinks }
  }

  /**
   * One claim-and-deliver pass of `sink` (or of every sink). Throws (retriable `OutboxError`) when
   * the table cannot be reached or the sink failed as a whole; its batch is then released.
   */
  async drainOnce(sink?: string | undefined): Promise<RelayPass[]> {
    const names = sink === undefined ? [...this.#sinks.keys()] : [this.#requireSink(sink)]
    const passes: RelayPass[] = []
    for (const name of names) passes.push(await this.#pass(name, this.#stop.signal))
    return passes
  }

  /** Pass after pass until no sink has anything deliverable now (retries waiting a backoff excluded). */
  async drainAll(): Promise<RelayPass[]> {
    const totals = new Map<string, RelayPass>()
    for (const name of this.#sinks.keys()) {
      const total = { sink: name, claimed: 0, delivered: 0, retried: 0, deadLettered: 0 }
      totals.set(name, total)
      for (;;) {
        const pass = await this.#pass(name, this.#stop.signal)
        total.claimed += pass.claimed
        total.delivered += pass.delivered
        total.retried += pass.retried
        total.deadLettered += pass.deadLettered
        if (pass.claimed < this.#options.batchSize) break
      }
    }
    return [...totals.values()]
  }

  #requireSink(name: string): string {
    if (!this.#sinks.has(name)) {
      throw new OutboxError('E_OUTBOX_UNKNOWN_SINK', `this relay has no sink "${name}"`, { sink: name })
    }
    return name
  }

  async #loop(name: string): Promise<void> {
    const o = this.#options
    const stop = this.#stop.signal
    const stats = this.#stats.get(name) as SinkStats
    while (!stop.aborted) {
      let wait = o.pollMs
      try {
        const pass = await this.#pass(name, stop)
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

  async #pass(name: string, stop: AbortSignal): Promise<RelayPass> {
    const stats = this.#stats.get(name) as SinkStats
    const pass: RelayPass = { sink: name, claimed: 0, delivered: 0, retried: 0, deadLettered: 0 }
    let rows: Claimed[]
    try {
      rows = await this.#claim(name)
    } catch (error) {
      const wrapped = sqlError(error, name)
      this.#failed(stats, wrapped)
      throw wrapped
    }
    pass.claimed = rows.length
    if (rows.length === 0) {
      stats.consecutiveFailures = 0
      return pass
    }
    const items: Array<OutboxDelivery<unknown>> = []
    const deliverable: Claimed[] = []
    for (const row of rows) {
      try {
        items.push({ seq: row.seq, payload: JSON.parse(row.payload), attempts: row.attempts })
        deliverable.push(row)
      } catch (error) {
        await this.#dead(
          name,
          stats,
          pass,
          row,
          `E_OUTBOX_INVALID_EFFECT payload is not JSON: ${describeError(error)}`,
        )
      }
    }
    let outcomes: readonly DeliveryOutcome[]
    try {
      outcomes = await this.#deliver(name, items, stop)
      if (outcomes.length !== items.length) {
        throw new OutboxError(
          'E_OUTBOX_SINK',
          `sink "${name}" answered ${outcomes.length} outcomes for ${items.length} effects`,
          { sink: name },
        )
      }
    } catch (error) {
      const wrapped =
        error instanceof OutboxError
          ? error
          : new OutboxError('E_OUTBOX_SINK', `sink "${name}" failed: ${describeError(error)}`, {
              sink: name,
              retriable: true,
              cause: error,
            })
      if (wrapped.code === 'E_OUTBOX_REJECTED') {
        outcomes = items.map(() => ({ status: 'rejected', error: describeError(wrapped) }) as const)
      } else {
        await this.#releaseAll(name, stats, pass, deliverable, wrapped)
        this.#failed(stats, wrapped)
        throw wrapped
      }
    }
    const done: number[] = []
    try {
      for (const [i, row] of deliverable.entries()) {
        const outcome = outcomes[i] as DeliveryOutcome
        if (outcome.status === 'done') done.push(row.seq)
        else if (outcome.status === 'rejected') await this.#dead(name, stats, pass, row, outcome.error)
        else await this.#retryOne(name, stats, pass, row, outcome.error)
      }
      if (done.length > 0) {
        await this.#db.runner.run(this.#outbox.sql.deleteDone(done.length), done)
        pass.delivered = done.length
        stats.delivered += done.length
        stats.lastDeliveredAt = Date.now()
      }
    } catch (error) {
      // Delivered but not settled: the lease expires and the batch is delivered again (sinks are
      // idempotent). The failure is the database's.
      const wrapped = sqlError(error, name)
      this.#failed(stats, wrapped)
      throw wrapped
    }
    stats.consecutiveFailures = 0
    if (pass.delivered > 0 && this.listenerCount('delivered') > 0) this.emit('delivered', pass)
    return pass
  }

  async #claim(name: string): Promise<Claimed[]> {
    const { batchSize, claimTimeoutMs, id } = this.#options
    const sql = this.#outbox.sql
    const leaseUs = claimTimeoutMs * 1_000
    const returning = sql.claimReturning()
    const rows: SqlRow[] = await this.#db.transaction(async (tx) => {
      if (returning !== undefined) return (await tx.run(returning, [id, leaseUs, name, batchSize])).rows
      const selected = (await tx.run(sql.selectClaimable(), [name, batchSize])).rows
      if (selected.length > 0) {
        await tx.run(sql.markClaimed(selected.length), [id, leaseUs, ...selected.map((row) => row.seq)])
      }
      return selected
    })
    return rows
      .map((row) => ({
        seq: Number(row.seq),
        payload: String(row.payload),
        attempts: Number(row.attempts),
        ageUs: Number(row.age_us ?? 0),
      }))
      .sort((a, b) => a.seq - b.seq)
  }

  async #deliver(
    name: string,
    items: Array<OutboxDelivery<unknown>>,
    stop: AbortSignal,
  ): Promise<readonly DeliveryOutcome[]> {
    if (items.length === 0) return []
    const sink = this.#sinks.get(name) as OutboxSink<unknown>
    const timeout = new AbortController()
    const signal = AbortSignal.any([timeout.signal, stop])
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new OutboxError(
          'E_OUTBOX_TIMEOUT',
          `sink "${name}" did not deliver ${items.length} effect(s) within ${this.#options.deliveryTimeoutMs} ms`,
          { sink: name, retriable: true },
        )
        timeout.abort(error)
        reject(error)
      }, this.#options.deliveryTimeoutMs)
    })
    try {
      return await Promise.race([sink.deliver(items, { sink: name, signal }), deadline])
    } finally {
      clearTimeout(timer)
    }
  }

  #failed(stats: SinkStats, error: OutboxError): void {
    stats.failedBatches++
    stats.consecutiveFailures++
    stats.lastError = describeError(error)
  }

  /** The whole batch failed transiently: release it for the next attempt (expired rows die). */
  async #releaseAll(name: string, stats: SinkStats, pass: RelayPass, rows: Claimed[], error: OutboxError) {
    const message = describeError(error)
    const { maxAgeUs, id } = this.#options
    const alive: number[] = []
    try {
      for (const row of rows) {
        if (row.ageUs >= maxAgeUs)
          await this.#dead(name, stats, pass, row, `expired after maxAge: ${message}`)
        else alive.push(row.seq)
      }
      if (alive.length > 0) {
        await this.#db.runner.run(this.#outbox.sql.releaseMany(alive.length), [message, id, ...alive])
      }
    } catch (sqlFailure) {
      // The lease expires by itself; the delivery failure is what the caller reports.
      if (this.listenerCount('error') > 0) this.emit('error', sqlError(sqlFailure, name))
    }
    pass.retried += alive.length
    stats.retried += alive.length
    if (alive.length > 0 && this.listenerCount('retry') > 0) {
      this.emit('retry', { sink: name, count: alive.length, error })
    }
  }

  async #retryOne(name: string, stats: SinkStats, pass: RelayPass, row: Claimed, message: string) {
    const { maxAgeUs, retryDelayMs, maxRetryDelayMs, id } = this.#options
    if (row.ageUs >= maxAgeUs) {
      await this.#dead(name, stats, pass, row, `expired after maxAge: ${message}`)
      return
    }
    const delayMs = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** Math.min(row.attempts, 30))
    // Half fixed, half jitter: spread, but never retried sooner than half the backoff.
    const jittered = delayMs / 2 + (Math.random() * delayMs) / 2
    await this.#db.runner.run(this.#outbox.sql.retryOne(), [
      message.slice(0, 2_000),
      Math.round(jittered * 1_000),
      row.seq,
      id,
    ])
    pass.retried++
    stats.retried++
    if (this.listenerCount('retry') > 0) {
      this.emit('retry', {
        sink: name,
        count: 1,
        error: new OutboxError('E_OUTBOX_SINK', message, { sink: name, seq: row.seq, retriable: true }),
      })
    }
  }

  async #dead(name: string, stats: SinkStats, pass: RelayPass, row: Claimed, message: string) {
    await this.#db.runner.run(this.#outbox.sql.deadOne(), [
      message.slice(0, 2_000),
      row.seq,
      this.#options.id,
    ])
    pass.deadLettered++
    stats.deadLettered++
    if (this.listenerCount('dead') > 0) this.emit('dead', { sink: name, seq: row.seq, error: message })
  }
}
