/**
 * The dashboard's and the monthly report's figures recomputed in SQL (`?source=db`, and the
 * tests' truth), in exactly the shape the aggregator's read returns: only non-empty groups and
 * buckets, the default range of a read (the last 30 days, the current month), tops ordered as
 * Redis orders a sorted set (score descending, then the member's text descending). Every query
 * reads a covering index but the per-client ones (`invoices_client_issued` holds no total).
 */
import type { Ranked } from '@ayala/metrics-stream'
import type { PrismaClient } from '../generated/prisma/client.ts'
import { REPORT_CURRENCIES, type REPORT_FIGURES } from '../invoices/invoice-events.ts'
import { type DashboardFigures, last30Days } from './summary.ts'

/** The month figures of the view (the report's, and the dashboard's current month). */
export type MonthFigures = Pick<
  DashboardFigures,
  'clientsByMonth' | 'countByMonth' | 'totalByMonth' | 'topClientsEUR' | 'topClientsUSD' | 'topClientsGBP'
>

/** The figures the monthly report reads. */
export type ReportFigures = Pick<DashboardFigures, (typeof REPORT_FIGURES)[number]>

/** Best `size` of `(member, score)` pairs as ZREVRANGE orders them; scores at or below 0 are absent. */
export function redisOrder(pairs: Iterable<[string, number]>, size: number): Ranked[] {
  return [...pairs]
    .filter(([, score]) => score > 0)
    .sort(([a, x], [b, y]) => y - x || (a < b ? 1 : a > b ? -1 : 0))
    .slice(0, size)
    .map(([member, score]) => ({ member, score }))
}

/** The month figures of the months from `from` (inclusive) to `to` (exclusive). */
export async function sqlMonthFigures(prisma: PrismaClient, from: Date, to: Date): Promise<MonthFigures> {
  const [groups, clients, tops] = await Promise.all([
    prisma.$queryRaw<Array<{ month: string; currency: string; status: string; n: bigint; total: unknown }>>`
      SELECT DATE_FORMAT(issued_at, '%Y-%m') AS month, currency, status, COUNT(*) AS n, SUM(total_cents) AS total
        FROM invoices WHERE issued_at >= ${from} AND issued_at < ${to}
       GROUP BY month, currency, status`,
    prisma.$queryRaw<Array<{ month: string; n: bigint }>>`
      SELECT DATE_FORMAT(issued_at, '%Y-%m') AS month, COUNT(DISTINCT client_id) AS n
        FROM invoices WHERE issued_at >= ${from} AND issued_at < ${to}
       GROUP BY month`,
    // The best 10 clients per month and currency, with a margin for ties at the 10th place.
    prisma.$queryRaw<Array<{ month: string; currency: string; client_id: number; total: unknown }>>`
      SELECT month, currency, client_id, total FROM (
        SELECT month, currency, client_id, total,
               ROW_NUMBER() OVER (PARTITION BY month, currency ORDER BY total DESC) AS rn
          FROM (SELECT DATE_FORMAT(issued_at, '%Y-%m') AS month, currency, client_id, SUM(total_cents) AS total
                  FROM invoices WHERE issued_at >= ${from} AND issued_at < ${to}
                 GROUP BY month, currency, client_id) AS sums
         WHERE total > 0) AS ranked
       WHERE rn <= 50`,
  ])
  const figures: MonthFigures = {
    clientsByMonth: {},
    countByMonth: {},
    totalByMonth: {},
    topClientsEUR: {},
    topClientsUSD: {},
    topClientsGBP: {},
  }
  for (const row of groups) {
    const field = `${row.currency}|${row.status}`
    figures.countByMonth[row.month] = { ...figures.countByMonth[row.month], [field]: Number(row.n) }
    const total = Number(row.total)
    if (total !== 0) figures.totalByMonth[row.month] = { ...figures.totalByMonth[row.month], [field]: total }
  }
  for (const row of clients) if (Number(row.n) > 0) figures.clientsByMonth[row.month] = Number(row.n)
  const candidates = new Map<string, Array<[string, number]>>()
  for (const row of tops) {
    const key = `${row.currency}\n${row.month}`
    const list = candidates.get(key) ?? []
    candidates.set(key, list)
    list.push([String(row.client_id), Number(row.total)])
  }
  for (const [key, pairs] of candidates) {
    const [currency, month] = key.split('\n') as [string, string]
    if (!(REPORT_CURRENCIES as readonly string[]).includes(currency)) continue
    figures[`topClients${currency as (typeof REPORT_CURRENCIES)[number]}`][month] = redisOrder(pairs, 10)
  }
  return figures
}

/** Every figure of the dashboard at `now`, as a read of the view without a range returns them. */
export async function sqlDashboardFigures(prisma: PrismaClient, now = Date.now()): Promise<DashboardFigures> {
  const days = last30Days(now)
  const first = new Date(`${days[0]}T00:00:00Z`)
  const last = new Date(`${days.at(-1)}T00:00:00Z`)
  const monthStart = new Date(Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1))
  const monthEnd = new Date(Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth() + 1, 1))
  const [statuses, perDay, clients, month] = await Promise.all([
    prisma.$queryRaw<Array<{ status: string; n: bigint; total: unknown }>>`
      SELECT status, COUNT(*) AS n, SUM(total_cents) AS total FROM invoices GROUP BY status`,
    prisma.$queryRaw<Array<{ day: string; n: bigint; total: unknown }>>`
      SELECT DATE_FORMAT(issued_at, '%Y-%m-%d') AS day, COUNT(*) AS n, SUM(total_cents) AS total
        FROM invoices WHERE issued_at >= ${first} AND issued_at <= ${last} GROUP BY day`,
    prisma.$queryRaw<Array<{ client_id: number; total: unknown }>>`
      SELECT client_id, SUM(total_cents) AS total FROM invoices
       GROUP BY client_id HAVING total > 0 ORDER BY total DESC LIMIT 50`,
    sqlMonthFigures(prisma, monthStart, monthEnd),
  ])
  const figures: { -readonly [K in keyof DashboardFigures]: DashboardFigures[K] } = {
    invoices: 0,
    countByStatus: {},
    totalByStatus: {},
    countByDay: {},
    totalByDay: {},
    topClients: redisOrder(
      clients.map((row) => [String(row.client_id), Number(row.total)]),
      10,
    ),
    ...month,
  }
  for (const row of statuses) {
    figures.invoices += Number(row.n)
    figures.countByStatus[row.status] = Number(row.n)
    if (Number(row.total) !== 0) figures.totalByStatus[row.status] = Number(row.total)
  }
  for (const row of perDay) {
    figures.countByDay[row.day] = Number(row.n)
    if (Number(row.total) !== 0) figures.totalByDay[row.day] = Number(row.total)
  }
  return figures
}
