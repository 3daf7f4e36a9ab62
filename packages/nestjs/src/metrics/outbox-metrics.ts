/**
 * Outbox figures for Prometheus, read at scrape time from the relay the `AyalaOutboxModule`
 * registered: the backlog per sink from the table (pending, retrying, dead letters, oldest age)
 * and the relay's counters (delivered, retried, dead-lettered, failed batches).
 *
 * The backlog is one query of the table per scrape, a {@link BoundedSource} (`outbox_backlog`):
 * with the database down or hung the scrape answers within `collectTimeout` without these gauges,
 * and `collector_up{collector="outbox_backlog"}` says 0.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import { BoundedSource } from './bounded-source.js'
import type { CollectorOptions } from './service-metrics.js'

/** What is read from an `@ayala/outbox` `OutboxRelay`. */
export interface OutboxStatsSource {
  stats(): Record<string, { delivered: number; retried: number; deadLettered: number; failedBatches: number }>
  health(): Promise<{
    sinks: Record<string, { pending: number; retrying: number; dead: number; oldestAgeMs: number | null }>
  }>
}

/** Register the outbox metrics; `source()` returns the relay at scrape time (or undefined). */
export function registerOutboxMetrics(
  registry: Registry,
  prefix: string,
  source: () => OutboxStatsSource | undefined,
  options: CollectorOptions = {},
): void {
  const counters = [
    ['delivered', 'Effects delivered to their sink'],
    ['retried', 'Effect deliveries that failed transiently (tried again)'],
    ['deadLettered', 'Effects made dead letters (refused, malformed or past maxAge)'],
    ['failedBatches', 'Delivery passes that failed as a whole (sink or database unreachable)'],
  ] as const
  for (const [field, help] of counters) {
    const name = `${prefix}outbox_${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`
    if (registry.getSingleMetric(name)) continue
    new Counter<'sink'>({
      name,
      help,
      labelNames: ['sink'],
      registers: [registry],
      collect() {
        this.reset()
        const stats = source()?.stats()
        if (stats === undefined) return
        for (const [sink, figures] of Object.entries(stats)) this.inc({ sink }, figures[field])
      },
    })
  }
  const gauges = [
    ['pending', 'Effects waiting for delivery (dead letters excluded)'],
    ['retrying', 'Pending effects that failed at least once'],
    ['dead', 'Dead letters waiting for a replay or a purge'],
    ['oldestAge', 'Age of the oldest pending effect since its commit, seconds'],
  ] as const
  // One read of the table per scrape, shared by the four gauges, within the deadline.
  const bounded = new BoundedSource('outbox_backlog', options.collectTimeoutMs ?? 2_000, () =>
    source()?.health(),
  )
  options.collectors?.push(bounded as BoundedSource<unknown>)
  const backlog = () => bounded.value()
  for (const [field, help] of gauges) {
    const name =
      field === 'oldestAge'
        ? `${prefix}outbox_oldest_pending_age_seconds`
        : `${prefix}outbox_${field}_effects`
    if (registry.getSingleMetric(name)) continue
    new Gauge<'sink'>({
      name,
      help,
      labelNames: ['sink'],
      registers: [registry],
      async collect() {
        this.reset()
        const health = await backlog()
        if (health === undefined) return
        for (const [sink, lag] of Object.entries(health.sinks)) {
          this.set({ sink }, field === 'oldestAge' ? (lag.oldestAgeMs ?? 0) / 1_000 : lag[field])
        }
      },
    })
  }
}
