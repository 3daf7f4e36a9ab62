/**
 * Search sync figures for Prometheus, read at scrape time from the `SearchSync` the
 * `AyalaSearchModule` registered: the search outbox's backlog (pending, oldest age, dead letters)
 * and its worker's retried refusals, and per index the drift the last reconcile found and what is
 * left of it, plus whether the index exists. One `status()` per scrape, shared by every gauge,
 * bounded by `collectTimeout` (a {@link BoundedSource}, `search_sync`: the database and the
 * engine may be down).
 */
import { Gauge, type Registry } from 'prom-client'
import { BoundedSource } from './bounded-source.js'
import type { CollectorOptions } from './service-metrics.js'

/** What is read from `@ayala/nestjs/search`'s `SearchSync`. */
export interface SearchSyncStatsSource {
  status(): Promise<{
    outbox?: { pending: number; oldestAgeMs: number | null; dead: number; retried: number } | undefined
    indexes: ReadonlyArray<{
      index: string
      exists: boolean
      drift: number
      remaining: number
      repaired: number
    }>
  }>
}

type Status = Awaited<ReturnType<SearchSyncStatsSource['status']>>

/** Register the search sync metrics; `source()` returns the `SearchSync` at scrape time (or undefined). */
export function registerSearchSyncMetrics(
  registry: Registry,
  prefix: string,
  source: () => SearchSyncStatsSource | undefined,
  options: CollectorOptions = {},
): void {
  const bounded = new BoundedSource<Status>('search_sync', options.collectTimeoutMs ?? 2_000, () =>
    source()?.status(),
  )
  options.collectors?.push(bounded as BoundedSource<unknown>)
  const status = () => bounded.value()
  const outbox: Array<[string, string, (o: NonNullable<Status['outbox']>) => number]> = [
    [
      `${prefix}search_outbox_pending_events`,
      'Search outbox events waiting (dead letters excluded)',
      (o) => o.pending,
    ],
    [
      `${prefix}search_outbox_oldest_pending_age_seconds`,
      'Age of the oldest pending search outbox event, seconds',
      (o) => (o.oldestAgeMs ?? 0) / 1_000,
    ],
    [`${prefix}search_outbox_dead_letters`, 'Search outbox dead letters kept in the table', (o) => o.dead],
    [
      `${prefix}search_outbox_retried_events`,
      'Transient engine refusals retried by this process since start',
      (o) => o.retried,
    ],
  ]
  for (const [name, help, read] of outbox) {
    if (registry.getSingleMetric(name)) continue
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.reset()
        const current = await status()
        if (current?.outbox !== undefined) this.set(read(current.outbox))
      },
    })
  }
  const perIndex: Array<[string, string, (i: Status['indexes'][number]) => number]> = [
    [
      `${prefix}search_index_drift_documents`,
      'Documents the last reconcile found different from the database',
      (i) => i.drift,
    ],
    [
      `${prefix}search_index_drift_remaining_documents`,
      'Differences left after the last reconcile',
      (i) => i.remaining,
    ],
    [
      `${prefix}search_index_repaired_documents`,
      'Documents repaired by reconcile since start',
      (i) => i.repaired,
    ],
    [
      `${prefix}search_index_exists`,
      '1 when the index exists, 0 when it is missing',
      (i) => (i.exists ? 1 : 0),
    ],
  ]
  for (const [name, help, read] of perIndex) {
    if (registry.getSingleMetric(name)) continue
    new Gauge<'index'>({
      name,
      help,
      labelNames: ['index'],
      registers: [registry],
      async collect() {
        this.reset()
        const current = await status()
        for (const index of current?.indexes ?? []) this.set({ index: index.index }, read(index))
      },
    })
  }
}
