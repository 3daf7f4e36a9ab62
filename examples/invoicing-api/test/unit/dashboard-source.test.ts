/**
 * The Flink-sourced view's figures in the dashboard's shape (src/dashboard/dashboard-source.ts):
 * the changelogs state every group, the embedded read only the last 30 days, no zero totals and
 * a top of 10 in Redis's order; the embedded view's figures pass through unchanged.
 */
import { describe, expect, it } from 'vitest'
import { resourceNames } from '../../src/config.ts'
import {
  dashboardFigures,
  dashboardTopics,
  dashboardViewOf,
  type SourceFigures,
} from '../../src/dashboard/dashboard-source.ts'
import type { DashboardFigures } from '../../src/dashboard/summary.ts'
import { dashboardView } from '../../src/invoices/invoice-events.ts'

const NOW = Date.UTC(2026, 11, 3, 12)
const month = {
  clientsByMonth: { '2026-12': 2 },
  countByMonth: { '2026-12': { 'EUR|paid': 2 } },
  totalByMonth: { '2026-12': { 'EUR|paid': 300 } },
  topClientsEUR: { '2026-12': [{ member: '1', score: 200 }] },
  topClientsUSD: {},
  topClientsGBP: {},
}

describe('dashboardFigures', () => {
  it('shapes the changelog figures as the embedded read returns them', () => {
    const flink = {
      ...month,
      flinkInvoices: { all: 7 },
      countByStatus: { paid: 5, issued: 2 },
      totalByStatus: { paid: 900, issued: 0 },
      // 2026-11-04 is the window's first day, 2026-11-03 outside, 2026-12-04 ahead of today.
      countByDay: { '2026-11-03': 1, '2026-11-04': 2, '2026-12-03': 3, '2026-12-04': 1 },
      totalByDay: { '2026-11-03': 10, '2026-11-04': 0, '2026-12-03': 30, '2026-12-04': 10 },
      flinkTopClients: Object.fromEntries(
        Array.from({ length: 12 }, (_, i) => [String(i + 1), i < 3 ? 5_000 : 100 * (12 - i)]),
      ),
    } as unknown as SourceFigures
    const shaped = dashboardFigures(flink, NOW)
    expect(shaped).toEqual({
      ...month,
      invoices: 7,
      countByStatus: { paid: 5, issued: 2 },
      totalByStatus: { paid: 900 },
      countByDay: { '2026-11-04': 2, '2026-12-03': 3 },
      totalByDay: { '2026-12-03': 30 },
      // Ties (5,000) ordered by member descending, as ZREVRANGE does; 10 kept.
      topClients: [
        { member: '3', score: 5_000 },
        { member: '2', score: 5_000 },
        { member: '1', score: 5_000 },
        ...[4, 5, 6, 7, 8, 9, 10].map((i) => ({ member: String(i), score: 100 * (13 - i) })),
      ],
    })
    expect(dashboardFigures({ ...flink, flinkInvoices: {} } as SourceFigures, NOW).invoices).toBe(0)
  })

  it('passes the embedded figures through', () => {
    const embedded = {
      ...month,
      invoices: 1,
      countByStatus: {},
      totalByStatus: {},
      countByDay: {},
      totalByDay: {},
      topClients: [],
    } as unknown as DashboardFigures
    expect(dashboardFigures(embedded, NOW)).toBe(embedded)
  })
})

describe('dashboardViewOf', () => {
  it('embedded: the example view on the events topic; flink: a view of its own reading the changelogs too', () => {
    const names = resourceNames('g7')
    expect(dashboardViewOf('embedded', names)).toBe(dashboardView)
    expect(dashboardTopics('embedded', names)).toEqual([names.topic])
    const flink = dashboardViewOf('flink', names)
    expect(flink.name).not.toBe(dashboardView.name)
    expect(dashboardTopics('flink', names)).toEqual([names.topic, ...Object.values(names.changelogTopics)])
    expect(Object.keys(flink.aggregates).sort()).toEqual(
      [
        ...Object.keys(month),
        'countByStatus',
        'totalByStatus',
        'countByDay',
        'totalByDay',
        'flinkInvoices',
        'flinkTopClients',
      ].sort(),
    )
  })
})
