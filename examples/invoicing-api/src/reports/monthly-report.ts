/**
 * The monthly report of one year (`GET /reports/monthly?year=`): per month and currency, the
 * count, the total, the split by status, the average ticket and the top clients, built from the
 * view's month figures (read from the aggregator, or recomputed in SQL: `dashboard-sql.ts`) by
 * the same code, so both sources answer the same shape.
 */
import type { ReportFigures } from '../dashboard/dashboard-sql.ts'
import type { RankedClient, Tally } from '../dashboard/summary.ts'
import { REPORT_CURRENCIES } from '../invoices/invoice-events.ts'

/** One month and currency. */
export interface ReportMonth extends Tally {
  /** `YYYY-MM`. */
  month: string
  currency: string
  /** `round(totalCents / invoices)`. */
  averageTicketCents: number
  byStatus: Record<string, Tally>
  /** Best 10 by total, best first. */
  topClients: RankedClient[]
}

/** The report of a year (the same body from either source, so the two compare as they are). */
export interface MonthlyReport {
  year: number
  /** By month, then currency; months without invoices left out. */
  months: ReportMonth[]
}

/** The ids of every client the report's tops name. */
export function reportClientIds(figures: ReportFigures): number[] {
  const ids = new Set<number>()
  for (const currency of REPORT_CURRENCIES) {
    for (const ranked of Object.values(figures[`topClients${currency}`])) {
      for (const { member } of ranked) ids.add(Number(member))
    }
  }
  return [...ids]
}

/** The report of `year` from its month figures. */
export function monthlyReport(
  year: number,
  figures: ReportFigures,
  names: ReadonlyMap<number, string>,
): MonthlyReport {
  const months: ReportMonth[] = []
  for (const month of Object.keys(figures.countByMonth).sort()) {
    const counts = figures.countByMonth[month] ?? {}
    const totals = figures.totalByMonth[month] ?? {}
    const byCurrency = new Map<string, ReportMonth>()
    for (const [field, invoices] of Object.entries(counts)) {
      const [currency, status] = field.split('|') as [string, string]
      let entry = byCurrency.get(currency)
      if (entry === undefined) {
        const top = (REPORT_CURRENCIES as readonly string[]).includes(currency)
          ? (figures[`topClients${currency as (typeof REPORT_CURRENCIES)[number]}`][month] ?? [])
          : []
        entry = {
          month,
          currency,
          invoices: 0,
          totalCents: 0,
          averageTicketCents: 0,
          byStatus: {},
          topClients: top.map(({ member, score }) => ({
            clientId: Number(member),
            name: names.get(Number(member)) ?? null,
            totalCents: score,
          })),
        }
        byCurrency.set(currency, entry)
      }
      const totalCents = totals[field] ?? 0
      entry.invoices += invoices
      entry.totalCents += totalCents
      entry.byStatus[status] = { invoices, totalCents }
    }
    for (const currency of [...byCurrency.keys()].sort()) {
      const entry = byCurrency.get(currency) as ReportMonth
      entry.averageTicketCents = entry.invoices === 0 ? 0 : Math.round(entry.totalCents / entry.invoices)
      months.push(entry)
    }
  }
  return { year, months }
}
