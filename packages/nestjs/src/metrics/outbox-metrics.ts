/**
 * Outbox figures for Prometheus, read at scrape time from the relay the `AyalaOutboxModule`
 * registered: the backlog per sink from the table (pending, retrying, dead letters, oldest age)
 * and the relay's counters (delivered, retried, dead-lettered, failed batches).
 */
import { Counter, Gauge, type Registry } from 'prom-client'

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
  // One read of the table per scrape, shared by the four gauges.
  let scrape: Promise<Awaited<ReturnType<OutboxStatsSource['health']>> | undefined> | undefined
  const backlog = () => {
    scrape ??= (source()?.health() ?? Promise.resolve(undefined)).finally(() => {
      setImmediate(() => {
        scrape = undefined
      })
    })
    return scrape
  }
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
