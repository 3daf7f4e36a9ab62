/**
 * The search index of invoices: Spanish full text (accent-folding preset) on the description,
 * the lines and the client's name, an autocomplete field over client name + description, the
 * invoice number as an identifier (prefix search on codes), and keyword/date/money fields for
 * filters.
 */
import { type DocumentOf, defineIndex, field, type IndexDefinition } from '@ayala/search'
import type { InvoiceView } from './invoice.ts'

function fields() {
  return {
    id: field.keyword(),
    number: field.identifier(),
    clientId: field.keyword(),
    clientName: field.text(),
    description: field.text(),
    lines: field.text(),
    status: field.keyword({ normalizer: 'folded' }),
    currency: field.keyword(),
    issuedAt: field.date(),
    totalCents: field.money(),
    suggest: field.autocomplete(),
  }
}

/** The index definition type. */
export type InvoiceIndex = IndexDefinition<ReturnType<typeof fields>>

/** The document indexed for one invoice. */
export type InvoiceDocument = DocumentOf<InvoiceIndex>

/** Define the invoice index under `name`. */
export function invoiceIndex(name: string): InvoiceIndex {
  // One node in development: a replica could never be assigned (the cluster would turn yellow).
  // Set INVOICE_INDEX_REPLICAS on a real cluster.
  const replicas = Number(process.env.INVOICE_INDEX_REPLICAS ?? 0)
  return defineIndex({ name, id: 'id', fields: fields(), settings: { number_of_replicas: replicas } })
}

/** The document of an invoice. */
export function toInvoiceDocument(invoice: InvoiceView): InvoiceDocument {
  return {
    id: String(invoice.id),
    number: invoice.number,
    clientId: String(invoice.client.id),
    clientName: invoice.client.name,
    description: invoice.description,
    lines: invoice.lines.map((line) => line.description).join('\n'),
    status: invoice.status,
    currency: invoice.currency,
    issuedAt: invoice.issuedAt,
    totalCents: invoice.totalCents,
    suggest: `${invoice.client.name} ${invoice.description}`,
  }
}
