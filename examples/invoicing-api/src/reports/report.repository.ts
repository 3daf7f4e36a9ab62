/**
 * The monthly report: invoices and amounts per month, currency and status. On the full table
 * this is the slow query of the original backend; here it reads the covering index
 * `invoices_issued_report (issued_at, status, currency, total_cents)` only (see the README's
 * EXPLAIN), and its result is cached for an hour under the tag `reports`, which every invoice
 * update invalidates.
 */
import { Cacheable } from '@ayala/cache'
import { Inject, Injectable } from '@nestjs/common'
import type { Database } from '../database/connection.ts'
import { DATABASE } from '../infrastructure.ts'

/** One row of the monthly report. */
export interface MonthlyReportRow {
  /** `YYYY-MM`. */
  month: string
  currency: string
  status: string
  invoices: number
  totalCents: number
}

/** The report's month range: `from` and `to` are `YYYY-MM`, both included. */
export interface MonthRange {
  from: string
  to: string
}

/** First day of the month after `YYYY-MM`, as a UTC date. */
function monthAfter(month: string): Date {
  const [year, m] = month.split('-').map(Number) as [number, number]
  return new Date(Date.UTC(year, m, 1))
}

/** Reports over invoices. */
@Injectable()
export class ReportRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  /** The monthly report of `range`, cached. */
  @Cacheable({
    key: (range: MonthRange) => `reports:monthly:${range.from}:${range.to}`,
    tags: () => ['reports'],
    ttl: '1h',
  })
  async monthly(range: MonthRange): Promise<MonthlyReportRow[]> {
    return this.monthlyFromSql(range)
  }

  /** The same aggregation straight on the database (the demo's SQL-only figure). */
  async monthlyFromSql(range: MonthRange): Promise<MonthlyReportRow[]> {
    const from = new Date(`${range.from}-01T00:00:00Z`)
    const to = monthAfter(range.to)
    const rows = await this.db.prisma.$queryRaw<
      Array<{ month: string; currency: string; status: string; invoices: bigint; total: unknown }>
    >`SELECT DATE_FORMAT(issued_at, '%Y-%m') AS month, currency, status,
             COUNT(*) AS invoices, SUM(total_cents) AS total
        FROM invoices
       WHERE issued_at >= ${from} AND issued_at < ${to}
       GROUP BY month, currency, status
       ORDER BY month, currency, status`
    return rows.map((row) => ({
      month: row.month,
      currency: row.currency,
      status: row.status,
      invoices: Number(row.invoices),
      totalCents: Number(row.total),
    }))
  }
}
