/**
 * `/search` asked to MariaDB, for when the search engine cannot answer: every word in the
 * description, a line or the client's name (`LIKE '%word%'`; the collation ignores case and
 * accents), with the same filters, newest first; the same question as `sqlSearch` in
 * `cli/reference-queries.ts`. It scans the table (no index serves a leading wildcard): right for a
 * fallback of this example's size, seconds at a million rows. No facets, no typo tolerance, and
 * no next page (an engine cursor cannot be continued in SQL: a request with a cursor fails with
 * the engine's error instead, a 503).
 */
import type { SearchFallbackAnswer } from '@ayala/search'
import type { Database } from '../database/connection.ts'
import type { Prisma } from '../generated/prisma/client.ts'
import { INVOICE_INCLUDE, toInvoiceView } from '../invoices/invoice.ts'
import { type InvoiceDocument, toInvoiceDocument } from '../invoices/invoice-index.ts'

/** The filters of a search. */
export interface SearchFilters {
  status?: string | undefined
  /** Issue dates, inclusive. */
  from?: string | undefined
  to?: string | undefined
  minTotalCents?: number | undefined
  maxTotalCents?: number | undefined
  clientId?: number | undefined
}

/** The SQL condition of `words` (every one somewhere) and `filters`. */
export function sqlSearchWhere(words: string, filters: SearchFilters): Prisma.InvoiceWhereInput {
  const day = (date: string) => new Date(`${date}T00:00:00Z`)
  return {
    AND: [
      ...words
        .split(/\s+/)
        .filter(Boolean)
        .map((word) => ({
          OR: [
            { description: { contains: word } },
            { client: { name: { contains: word } } },
            { lines: { some: { description: { contains: word } } } },
          ],
        })),
      ...(filters.status === undefined ? [] : [{ status: filters.status }]),
      ...(filters.clientId === undefined ? [] : [{ clientId: filters.clientId }]),
      ...(filters.from === undefined ? [] : [{ issuedAt: { gte: day(filters.from) } }]),
      ...(filters.to === undefined ? [] : [{ issuedAt: { lte: day(filters.to) } }]),
      ...(filters.minTotalCents === undefined ? [] : [{ totalCents: { gte: filters.minTotalCents } }]),
      ...(filters.maxTotalCents === undefined ? [] : [{ totalCents: { lte: filters.maxTotalCents } }]),
    ],
  }
}

/** The fallback's answer: the count and the newest `size` matches. */
export async function sqlSearchHits<A = Record<never, never>>(
  db: Database,
  words: string,
  filters: SearchFilters,
  size: number,
): Promise<SearchFallbackAnswer<InvoiceDocument, A>> {
  const where = sqlSearchWhere(words, filters)
  const [total, rows] = await Promise.all([
    db.prisma.invoice.count({ where }),
    db.prisma.invoice.findMany({
      where,
      include: INVOICE_INCLUDE,
      orderBy: [{ issuedAt: 'desc' }, { id: 'desc' }],
      take: size,
    }),
  ])
  return {
    total: { value: total, relation: 'eq' },
    hits: rows.map((row) => {
      const source = toInvoiceDocument(toInvoiceView(row))
      return { id: source.id, score: null, source, highlight: undefined, sort: undefined }
    }),
  }
}
