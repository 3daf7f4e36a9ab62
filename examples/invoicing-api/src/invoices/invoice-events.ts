/**
 * Invoice events on Kafka and the dashboard view the aggregator keeps in Redis. Each event
 * carries the invoice's figures after the change and, for an update, before it: the aggregator
 * retracts the previous contribution and adds the new one (see the metrics-stream aggregates page).
 */
import { defineAggregates, defineView } from '@ayala/metrics-stream'
import type { InvoiceView } from './invoice.ts'

/** The figures of an invoice the dashboard aggregates. */
export interface InvoiceFigures {
  status: string
  currency: string
  totalCents: number
  /** Issue date, epoch ms (UTC midnight). */
  issuedAt: number
}

/** One event: an invoice created (no `previous`) or changed. */
export interface InvoiceEvent {
  invoiceId: string
  /** The invoice's version after the change. */
  version: number
  /** When it happened, epoch ms. */
  at: number
  invoice: InvoiceFigures
  previous?: InvoiceFigures | undefined
}

/** The dashboard's figures. */
export const dashboardAggregates = defineAggregates<InvoiceFigures>()((a) => ({
  invoices: a.count(),
  countByStatus: a.count({ by: { status: (r) => r.status } }),
  totalByStatus: a.sum({ value: (r) => r.totalCents, by: { status: (r) => r.status } }),
}))

/** The dashboard view of invoice events. */
export const dashboardView = defineView<InvoiceEvent, InvoiceFigures, typeof dashboardAggregates>({
  name: 'invoices',
  eventTime: (e) => e.at,
  rows: (e) => ({ add: e.invoice, retract: e.previous }),
  aggregates: dashboardAggregates,
})

/** The figures of an invoice. */
export function invoiceFigures(
  invoice: Pick<InvoiceView, 'status' | 'currency' | 'totalCents' | 'issuedAt'>,
): InvoiceFigures {
  return {
    status: invoice.status,
    currency: invoice.currency,
    totalCents: invoice.totalCents,
    issuedAt: Date.parse(`${invoice.issuedAt}T00:00:00Z`),
  }
}
