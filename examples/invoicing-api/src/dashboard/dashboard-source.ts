/**
 * The dashboard view under either source (`INVOICING_DASHBOARD_SOURCE`, `config.ts`), and its
 * figures in the one shape both answer (`DashboardFigures`), so the summary, the SSE push, the
 * page and `?source=db` do not care where a figure was computed.
 *
 * - `embedded`: `dashboardView`, every figure aggregated here from the invoice events.
 * - `flink`: one view of its own (`invoices_flink`: other Redis keys, a consumer group of its
 *   own) that combines the month figures, still aggregated here from the same events (entity
 *   mode: each invoice's current contribution), with the figures a Flink SQL job computes from
 *   the same events (`InvoiceDashboardJob`: latest version per invoice, a deletion removes it),
 *   read from its upsert changelog topics. The consumer reads the events topic and the four
 *   changelog topics; one read, one version, figures from both.
 *
 * A changelog figure reads as `Record<group, number>` with every group the job states, so the
 * shaping below does what the embedded read does by itself: the overall count from its single
 * `all` row, the per-day figures cut to the last 30 UTC days (the job keeps every day: a day's
 * row is one small hash field), zero totals left out, the top 10 clients taken from the job's
 * best 20 in Redis's order (score, then member, descending) so that ties at the 10th place fall
 * the same way as in a sorted set.
 */
import { changelog, defineView, type Figures, type View } from '@ayala/metrics-stream'
import type { DashboardSource, ResourceNames } from '../config.ts'
import {
  dashboardAggregates,
  dashboardView,
  type InvoiceEvent,
  type InvoiceFigures,
} from '../invoices/invoice-events.ts'
import { redisOrder } from './dashboard-sql.ts'
import { type DashboardFigures, last30Days } from './summary.ts'

const {
  invoices: _invoices,
  countByStatus: _countByStatus,
  totalByStatus: _totalByStatus,
  countByDay: _countByDay,
  totalByDay: _totalByDay,
  topClients: _topClients,
  ...monthAggregates
} = dashboardAggregates

/** The aggregates of the Flink-sourced view: the month figures embedded, the rest changelogs. */
export function flinkAggregates(names: ResourceNames) {
  const topics = names.changelogTopics
  return {
    ...monthAggregates,
    ...changelog({
      topic: topics.overall,
      key: ['scope'],
      figures: { flinkInvoices: { column: 'invoices' } },
    }),
    ...changelog({
      topic: topics.byStatus,
      key: ['status'],
      figures: { countByStatus: { column: 'invoices' }, totalByStatus: { column: 'total_cents' } },
    }),
    ...changelog({
      topic: topics.byDay,
      key: ['day'],
      figures: { countByDay: { column: 'invoices' }, totalByDay: { column: 'total_cents' } },
    }),
    ...changelog({
      topic: topics.topClients,
      key: ['clientId'],
      figures: { flinkTopClients: { column: 'total_cents' } },
    }),
  }
}

/** The aggregates of the Flink-sourced view. */
export type FlinkAggregates = ReturnType<typeof flinkAggregates>

/** The aggregates of the dashboard view under either source. */
export type SourceAggregates = typeof dashboardAggregates | FlinkAggregates

/** The figures a read of the dashboard view returns, under either source. */
export type SourceFigures = Figures<typeof dashboardAggregates> | Figures<FlinkAggregates>

/** The dashboard view of `source`. */
export function dashboardViewOf(
  source: DashboardSource,
  names: ResourceNames,
): View<InvoiceEvent, InvoiceFigures, SourceAggregates> {
  if (source === 'embedded') return dashboardView
  return defineView<InvoiceEvent, InvoiceFigures, FlinkAggregates>({
    name: 'invoices_flink',
    eventTime: dashboardView.eventTime,
    entity: (e) => ({ key: e.invoiceId, version: e.version, row: e.invoice }),
    aggregates: flinkAggregates(names),
  })
}

/** The topics the aggregator of `source` reads. */
export function dashboardTopics(source: DashboardSource, names: ResourceNames): string[] {
  return source === 'embedded' ? [names.topic] : [names.topic, ...Object.values(names.changelogTopics)]
}

function nonZero(values: Record<string, number>, only?: readonly string[]): Record<string, number> {
  const kept: Record<string, number> = {}
  for (const key of only ?? Object.keys(values)) {
    const value = values[key]
    if (value !== undefined && value !== 0) kept[key] = value
  }
  return kept
}

/** `figures` of either view in the dashboard's shape, the last 30 days ending on `now`'s. */
export function dashboardFigures(figures: SourceFigures, now: number): DashboardFigures {
  if (!('flinkInvoices' in figures)) return figures
  const { flinkInvoices, flinkTopClients, countByDay, totalByDay, totalByStatus, ...rest } = figures
  const days = last30Days(now)
  return {
    ...rest,
    invoices: flinkInvoices.all ?? 0,
    totalByStatus: nonZero(totalByStatus),
    countByDay: nonZero(countByDay, days),
    totalByDay: nonZero(totalByDay, days),
    topClients: redisOrder(Object.entries(flinkTopClients), 10),
  }
}
