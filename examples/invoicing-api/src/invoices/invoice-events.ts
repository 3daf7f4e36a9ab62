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
import { defineAggregates, defineView } from '@ayala/metrics-stream'
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
