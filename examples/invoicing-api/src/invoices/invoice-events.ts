/**
 * Invoice events on Kafka and the dashboard view the aggregator keeps in Redis. Each event
 * carries the invoice's figures after the change, with the invoice's version: the view is an
 * entity view, so the aggregator keeps each invoice's current contribution and applies each
 * version once, whatever the offsets. The outbox relay delivers at least once (a relay killed
 * after Kafka acknowledged and before it marked the rows done produces them again): those
 * duplicates, and versions arriving out of order from two relays, change nothing. (`previous`,
 * the figures before the change, is kept in the event for consumers of the topic that aggregate
 * deltas.)
 */
import { day, defineAggregates, defineView, month } from '@ayala/metrics-stream'
import type { InvoiceView } from './invoice.ts'

/** The figures of an invoice the dashboard aggregates. */
export interface InvoiceFigures {
  /** The client's id, as text (the member of the top-clients figures). */
  clientId: string
  status: string
  currency: string
  totalCents: number
  /** Issue date, epoch ms (UTC midnight). */
  issuedAt: number
}

/** One event: an invoice created (no `previous`), changed, or deleted (`invoice: null`). */
export interface InvoiceEvent {
  invoiceId: string
  /** The invoice's version after the change (a deletion's is the last version plus one). */
  version: number
  /** When it happened, epoch ms. */
  at: number
  /** The invoice's figures after the change; `null`: deleted (a tombstone). */
  invoice: InvoiceFigures | null
  previous?: InvoiceFigures | undefined
}

/** The currencies with a top of clients per month (the API accepts these only). */
export const REPORT_CURRENCIES = ['EUR', 'USD', 'GBP'] as const

const issued = (r: InvoiceFigures) => r.issuedAt
const cents = (r: InvoiceFigures) => r.totalCents
const client = (r: InvoiceFigures) => r.clientId

/** A month's best 10 clients by total in one currency. */
function topOfMonth(currency: (typeof REPORT_CURRENCIES)[number]) {
  return {
    member: client,
    score: cents,
    size: 10,
    where: (r: InvoiceFigures) => r.currency === currency,
    bucket: month(issued),
    readBuckets: 1,
  }
}

/**
 * The dashboard's figures, by issue date (UTC). An entity view keeps each invoice's current
 * contribution, so a status change moves it and a deletion takes it out of every figure,
 * distinct clients and tops included (`distinct({ exact: true })`, `top` retracted by score).
 * Day buckets live 40 days past their day (the dashboard shows 30); month buckets forever (the
 * monthly report reads them by year). A read without a range gets the last 30 days and the
 * current month; the report reads the month figures of one year (`figures`). Within a
 * generation the list may only be appended to (the stored contributions name figures by
 * position): a change here needs a new dataset (`DATASET_FORMAT`).
 */
export const dashboardAggregates = defineAggregates<InvoiceFigures>()((a) => ({
  invoices: a.count(),
  countByStatus: a.count({ by: { status: (r) => r.status } }),
  totalByStatus: a.sum({ value: cents, by: { status: (r) => r.status } }),
  countByDay: a.count({ bucket: day(issued), retention: '40d', readBuckets: 30 }),
  totalByDay: a.sum({ value: cents, bucket: day(issued), retention: '40d', readBuckets: 30 }),
  topClients: a.top({ member: client, score: cents, size: 10 }),
  clientsByMonth: a.distinct({ value: client, exact: true, bucket: month(issued), readBuckets: 1 }),
  countByMonth: a.count({
    by: { currency: (r) => r.currency, status: (r) => r.status },
    bucket: month(issued),
    readBuckets: 1,
  }),
  totalByMonth: a.sum({
    value: cents,
    by: { currency: (r) => r.currency, status: (r) => r.status },
    bucket: month(issued),
    readBuckets: 1,
  }),
  topClientsEUR: a.top(topOfMonth('EUR')),
  topClientsUSD: a.top(topOfMonth('USD')),
  topClientsGBP: a.top(topOfMonth('GBP')),
}))

/** The figures of the monthly report (read by year). */
export const REPORT_FIGURES = [
  'countByMonth',
  'totalByMonth',
  'topClientsEUR',
  'topClientsUSD',
  'topClientsGBP',
] as const

/** The dashboard view of invoice events. */
export const dashboardView = defineView<InvoiceEvent, InvoiceFigures, typeof dashboardAggregates>({
  name: 'invoices',
  eventTime: (e) => e.at,
  // A deletion's row is null: its contribution leaves every figure.
  entity: (e) => ({ key: e.invoiceId, version: e.version, row: e.invoice }),
  aggregates: dashboardAggregates,
})

/** The figures of an invoice. */
export function invoiceFigures(
  invoice: Pick<InvoiceView, 'status' | 'currency' | 'totalCents' | 'issuedAt'> & {
    client: { id: number }
  },
): InvoiceFigures {
  return {
    clientId: String(invoice.client.id),
    status: invoice.status,
    currency: invoice.currency,
    totalCents: invoice.totalCents,
    issuedAt: Date.parse(`${invoice.issuedAt}T00:00:00Z`),
  }
}
