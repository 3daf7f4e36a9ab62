/**
 * The search index of invoices: Spanish full text (accent-folding preset) on the description,
 * the lines and the client's name, an autocomplete field over client name + description + lines, the
 * invoice number as an identifier (prefix search on codes), and keyword/date/money fields for
 * filters.
 */
import {
  type DocumentOf,
  defineIndex,
  field,
  type IndexDefinition,
  type ReconcileSource,
  sqlReconcileSource,
} from '@ayala/search'
import type { Database } from '../database/connection.ts'
import { INVOICE_INCLUDE, type InvoiceView, toInvoiceView } from './invoice.ts'

function fields() {
  return {
    id: field.keyword(),
    /** The numeric id: the key `reconcile()` compares with SQL by ranges (keywords sort as text). */
    invoiceId: field.long(),
    /** The row's version (also the document's external version): what `reconcile()` sums per range. */
    version: field.long(),
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
    invoiceId: invoice.id,
    version: invoice.version,
    number: invoice.number,
    clientId: String(invoice.client.id),
    clientName: invoice.client.name,
    description: invoice.description,
    lines: invoice.lines.map((line) => line.description).join('\n'),
    status: invoice.status,
    currency: invoice.currency,
    issuedAt: invoice.issuedAt,
    totalCents: invoice.totalCents,
    // Type-ahead over the client's name, the description and the lines' descriptions.
    suggest: [
      invoice.client.name,
      invoice.description,
      ...invoice.lines.map((line) => line.description),
    ].join(' '),
  }
}

/**
 * The database side of `reconcile()` for the invoice index: range digests and keyset pages on
 * `invoices.id` / `invoices.version`, and the documents of the keys that differ loaded through
 * Prisma (with client and lines, as the API serves them).
 */
export function invoiceReconcileSource(db: Database): ReconcileSource<InvoiceDocument, number> {
  return sqlReconcileSource<InvoiceDocument, number>({
    db: db.pool,
    table: 'invoices',
    key: 'id',
    version: 'version',
    load: async (ids) => {
      const rows = await db.prisma.invoice.findMany({
        where: { id: { in: [...ids] } },
        include: INVOICE_INCLUDE,
      })
      return rows.map((row) => {
        const view = toInvoiceView(row)
        return { key: view.id, version: view.version, document: toInvoiceDocument(view) }
      })
    },
  })
}
