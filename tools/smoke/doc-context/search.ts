/**
 * What the search pages' snippets assume (preludes import it as `#context/search`): the index of
 * packages/search/README.md's quick start, its client, the application's invoice row with its
 * version column, and the mappings between them. Declarations, plus the definition itself.
 */
import { createSearchClient, type DocumentOf, defineIndex, field, type Hit } from '@ayala/search'
import type { Pool, PoolConnection } from 'mariadb'

/** The quick start's index. */
export const invoices = defineIndex({
  name: 'invoices',
  id: 'id',
  fields: {
    id: field.keyword(),
    number: field.identifier(),
    description: field.text(),
    clientName: field.text(),
    client: field.keyword({ normalizer: 'folded' }),
    status: field.keyword(),
    issuedAt: field.date(),
    totalCents: field.money(),
    suggest: field.autocomplete(),
    version: field.long(),
  },
})
/** The next version of the index (a reindex's target): the same fields, another analysis. */
export const invoicesV2 = defineIndex({
  name: 'invoices',
  id: 'id',
  fields: { ...invoices.fields, clientName: field.text({ analyzer: 'standard' }) },
})

/** The index's document. */
export type InvoiceDocument = DocumentOf<typeof invoices>

/** The invoice row of the application's database (its `version` column the external version). */
export interface Invoice {
  id: string
  number: string
  clientName: string
  description: string
  status: string
  issuedAt: string
  totalCents: number
  version: number
}
/** A row as `SELECT *` returns it. */
export type InvoiceRow = Invoice & { [column: string]: unknown }

export const search = createSearchClient({ node: 'http://127.0.0.1:9200' })
export declare const pool: Pool
/** A connection in a transaction. */
export declare const tx: PoolConnection
export declare const conn: PoolConnection
export declare const invoice: Invoice
export declare const document: InvoiceDocument
export declare const id: string
export declare const version: number
export declare const status: string
/** The words a user typed. */
export declare const text: string
export declare const words: string
export declare const cursor: string | undefined

/** The application's mapping from its row to the index's document. */
export declare function toDoc(invoice: Invoice): InvoiceDocument
export declare function toInvoice(row: InvoiceRow): InvoiceDocument
export declare function toDocument(row: Record<string, unknown>): InvoiceDocument
/** The same search in SQL (a fallback while the engine cannot answer). */
export declare function fromSql(words: string): Promise<Array<Hit<InvoiceDocument>>>
/** The application's loader of rows by id (joins, computed fields). */
export declare function loadInvoices(ids: readonly string[]): Promise<Invoice[]>
export { log } from './app.ts'
