/**
 * The invoice as the API serves it (JSON-ready: dates as `YYYY-MM-DD`, amounts in integer cents),
 * and its mapping from Prisma rows. The cache stores this shape, so a cached read and a database
 * read answer byte-identical JSON.
 */
import type { Client, Invoice, InvoiceLine } from '../generated/prisma/client.ts'

/** Invoice statuses. */
export const INVOICE_STATUSES = ['draft', 'issued', 'paid', 'overdue', 'cancelled'] as const

/** One of {@link INVOICE_STATUSES}. */
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number]

/** One line of an invoice. */
export interface InvoiceLineView {
  position: number
  description: string
  quantity: number
  unitPriceCents: number
  /** Tax rate in basis points (2100 = 21 %). */
  taxRateBp: number
}

/** An invoice with its client and lines. */
export interface InvoiceView {
  id: number
  number: string
  status: string
  issuedAt: string
  dueAt: string
  currency: string
  netCents: number
  taxCents: number
  totalCents: number
  description: string
  version: number
  client: { id: number; name: string; taxId: string; city: string }
  lines: InvoiceLineView[]
}

/** `2026-11-27` of a `DATE` column (read as UTC midnight). */
export function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10)
}

/** Map a Prisma invoice with `client` and `lines` included. */
export function toInvoiceView(row: Invoice & { client: Client; lines: InvoiceLine[] }): InvoiceView {
  return {
    id: row.id,
    number: row.number,
    status: row.status,
    issuedAt: isoDate(row.issuedAt),
    dueAt: isoDate(row.dueAt),
    currency: row.currency,
    netCents: row.netCents,
    taxCents: row.taxCents,
    totalCents: row.totalCents,
    description: row.description,
    version: row.version,
    client: { id: row.client.id, name: row.client.name, taxId: row.client.taxId, city: row.client.city },
    lines: row.lines
      .sort((a, b) => a.position - b.position)
      .map((line) => ({
        position: line.position,
        description: line.description,
        quantity: line.quantity,
        unitPriceCents: line.unitPriceCents,
        taxRateBp: line.taxRateBp,
      })),
  }
}

/** The Prisma `include` that {@link toInvoiceView} needs. */
export const INVOICE_INCLUDE = { client: true, lines: { orderBy: { position: 'asc' } } } as const
