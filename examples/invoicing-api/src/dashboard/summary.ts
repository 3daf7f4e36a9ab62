/**
 * What the dashboard shows, computed from the aggregator's raw figures (or from SQL's version of
 * them: `dashboard-sql.ts`), so both sources answer the same shape from the same code: totals
 * overall and by status, today, this month (with its distinct clients), the last 30 days (zeros
 * included) and the top 10 clients with their names. Days are UTC.
 */
import type { Figures } from '@ayala/metrics-stream'
import type { dashboardAggregates } from '../invoices/invoice-events.ts'

/** The aggregator's figures of the dashboard view. */
export type DashboardFigures = Figures<typeof dashboardAggregates>

/** A count and a total. */
export interface Tally {
  invoices: number
  totalCents: number
}

/** One ranked client. */
export interface RankedClient {
  clientId: number
  /** Null when the client cannot be read now (the figures are still served). */
  name: string | null
  totalCents: number
}

/** The dashboard's summary. */
export interface DashboardSummary extends Tally {
  /** Today (UTC), the day the figures are relative to. */
  date: string
  byStatus: Record<string, Tally>
  today: Tally
  thisMonth: Tally & { month: string; clients: number }
  /** The last 30 days, oldest first, zeros included. */
  last30Days: Array<Tally & { date: string }>
  topClients: RankedClient[]
}

const DAY_MS = 86_400_000

/** The 30 UTC days ending on `now`'s, oldest first. */
export function last30Days(now: number): string[] {
  const today = Math.floor(now / DAY_MS) * DAY_MS
  return Array.from({ length: 30 }, (_, i) => new Date(today - (29 - i) * DAY_MS).toISOString().slice(0, 10))
}

const sum = (values: Record<string, number> | undefined) =>
  Object.values(values ?? {}).reduce((total, n) => total + n, 0)

/** The summary of `figures` at `now`, with client names from `names`. */
export function dashboardSummary(
  figures: DashboardFigures,
  now: number,
  names: ReadonlyMap<number, string>,
): DashboardSummary {
  const date = new Date(now).toISOString().slice(0, 10)
  const month = date.slice(0, 7)
  const byStatus: Record<string, Tally> = {}
  for (const status of new Set([
    ...Object.keys(figures.countByStatus),
    ...Object.keys(figures.totalByStatus),
  ])) {
    byStatus[status] = {
      invoices: figures.countByStatus[status] ?? 0,
      totalCents: figures.totalByStatus[status] ?? 0,
    }
  }
  return {
    date,
    invoices: figures.invoices,
    totalCents: sum(figures.totalByStatus),
    byStatus,
    today: { invoices: figures.countByDay[date] ?? 0, totalCents: figures.totalByDay[date] ?? 0 },
    thisMonth: {
      month,
      invoices: sum(figures.countByMonth[month]),
      totalCents: sum(figures.totalByMonth[month]),
      clients: figures.clientsByMonth[month] ?? 0,
    },
    last30Days: last30Days(now).map((day) => ({
      date: day,
      invoices: figures.countByDay[day] ?? 0,
      totalCents: figures.totalByDay[day] ?? 0,
    })),
    topClients: figures.topClients.map(({ member, score }) => ({
      clientId: Number(member),
      name: names.get(Number(member)) ?? null,
      totalCents: score,
    })),
  }
}
