/**
 * Async figures read at scrape time, bounded: a Prometheus scrape must answer even when the
 * service behind a figure is dead or hung (consumer lag reads Kafka and Redis, the outbox backlog
 * and the search sync status read the database and the engine). Each such source is a
 * {@link BoundedSource}:
 *
 * - one read per scrape, shared by every series of the source (they are collected in the same
 *   tick);
 * - at most one read in flight: a read still pending from an earlier scrape (a hung service) is
 *   not repeated, so a dead service never piles up calls, one per scrape. Such a read is waited
 *   for only while it is younger than the deadline: one started longer ago would bring figures
 *   older than that, passed off as this scrape's, so the source is reported down at once until it
 *   settles (the next scrape then reads afresh);
 * - a deadline (`collectTimeout`): past it, or when the read fails, the source is reported down
 *   for this scrape (`<prefix>collector_up{collector} 0`) and its series are left out (a gap,
 *   never the previous value passed off as current); `<prefix>collector_duration_seconds` says
 *   how long the read took (when it did not answer: how long it has been pending).
 *
 * The up/down transitions are logged once each, naming the collector and the error's code (no
 * message: it may carry an address).
 */
import { Logger } from '@nestjs/common'
import { Gauge, type Registry } from 'prom-client'

/** What a scrape got from a source. */
export type SourceOutcome<T> =
  | { state: 'absent' }
  | { state: 'up'; value: T; durationMs: number }
  | { state: 'down'; reason: 'timeout' | 'error'; error: unknown; durationMs: number }

const TIMED_OUT: unique symbol = Symbol('timed out')

/** See the module note. */
export class BoundedSource<T> {
  private inflight: Promise<T> | undefined
  private inflightSince = 0
  private scrape: Promise<SourceOutcome<T>> | undefined
  private down = false
  private readonly logger = new Logger('AyalaMetricsModule')

  constructor(
    /** The `collector` label: what the source reads (`stream_lag`, `outbox_backlog`, `search_sync`). */
    readonly name: string,
    private readonly timeoutMs: number,
    /** The read, or undefined when the provider is not registered (nothing to report). */
    private readonly read: () => Promise<T> | undefined,
  ) {}

  /** This scrape's outcome (shared by every series of the source within one scrape). */
  outcome(): Promise<SourceOutcome<T>> {
    this.scrape ??= this.run().finally(() => {
      setImmediate(() => {
        this.scrape = undefined
      })
    })
    return this.scrape
  }

  /** This scrape's value, or undefined when the source is absent or down. */
  async value(): Promise<T | undefined> {
    const outcome = await this.outcome()
    return outcome.state === 'up' ? outcome.value : undefined
  }

  private async run(): Promise<SourceOutcome<T>> {
    const started = performance.now()
    if (this.inflight === undefined) {
      let call: Promise<T> | undefined
      try {
        call = this.read()
      } catch (error) {
        return this.failed('error', error, started)
      }
      if (call === undefined) return { state: 'absent' }
      const current = Promise.resolve(call)
      this.inflight = current
      this.inflightSince = started
      const clear = () => {
        if (this.inflight === current) this.inflight = undefined
      }
      current.then(clear, clear)
    }
    // A read left from an earlier scrape: wait for it only as long as its figures stay younger
    // than the deadline.
    const pending = this.inflight as Promise<T>
    const waitMs = this.timeoutMs - (started - this.inflightSince)
    if (waitMs <= 0) return this.failed('timeout', undefined, this.inflightSince)
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), waitMs)
      timer.unref?.()
    })
    try {
      const value = await Promise.race([pending, deadline])
      if (value === TIMED_OUT) return this.failed('timeout', undefined, this.inflightSince)
      if (this.down) this.logger.log(`collector ${this.name} answers again`)
      this.down = false
      return { state: 'up', value, durationMs: performance.now() - started }
    } catch (error) {
      return this.failed('error', error, started)
    } finally {
      clearTimeout(timer)
    }
  }

  /** Report the source down; `since`: when the read that did not answer (or failed) started. */
  private failed(reason: 'timeout' | 'error', error: unknown, since: number): SourceOutcome<T> {
    if (!this.down) {
      const code = (error as { code?: unknown } | undefined)?.code
      const what =
        reason === 'timeout'
          ? `no answer within ${this.timeoutMs} ms`
          : `failed (${typeof code === 'string' ? code : error instanceof Error ? error.name : 'error'})`
      this.logger.warn(`collector ${this.name} down: ${what}; its series are left out of the scrape`)
    }
    this.down = true
    return { state: 'down', reason, error, durationMs: performance.now() - since }
  }
}

/**
 * Register `<prefix>collector_up{collector}` (1 answered within the deadline, 0 did not) and
 * `<prefix>collector_duration_seconds{collector}` over `sources` (an absent source is not
 * reported).
 */
export function registerCollectorMetrics(
  registry: Registry,
  prefix: string,
  sources: ReadonlyArray<BoundedSource<unknown>>,
): void {
  const upName = `${prefix}collector_up`
  if (!registry.getSingleMetric(upName)) {
    new Gauge<'collector'>({
      name: upName,
      help: '1 when the collector read its service within collectTimeout at this scrape, 0 when it did not (its series are then left out)',
      labelNames: ['collector'],
      registers: [registry],
      async collect() {
        this.reset()
        const outcomes = await Promise.all(sources.map((source) => source.outcome()))
        outcomes.forEach((outcome, i) => {
          if (outcome.state !== 'absent')
            this.set(
              { collector: (sources[i] as BoundedSource<unknown>).name },
              outcome.state === 'up' ? 1 : 0,
            )
        })
      },
    })
  }
  const durationName = `${prefix}collector_duration_seconds`
  if (!registry.getSingleMetric(durationName)) {
    new Gauge<'collector'>({
      name: durationName,
      help: 'Time the collector took to read its service at this scrape; when it did not answer, how long the read has been pending, seconds',
      labelNames: ['collector'],
      registers: [registry],
      async collect() {
        this.reset()
        const outcomes = await Promise.all(sources.map((source) => source.outcome()))
        outcomes.forEach((outcome, i) => {
          if (outcome.state !== 'absent') {
            this.set({ collector: (sources[i] as BoundedSource<unknown>).name }, outcome.durationMs / 1_000)
          }
        })
      },
    })
  }
}
