/**
 * The SQL-only version of each endpoint: the same question asked straight to MariaDB through
 * Prisma, with no cache, no search engine and no stream. The demo times these against the served
 * endpoints and checks that both answer the same; the integration test uses them as the truth.
 *
 * Text matching in SQL is `LIKE '%word%'` (Prisma's `contains`): the tables' collation
 * (`utf8mb4_unicode_ci`) ignores case and accents, so "climatizacion" finds "climatización" there
 * too, but every query scans the table (no index can serve a leading wildcard).
 */

import { sqlDashboardFigures } from '../dashboard/dashboard-sql.ts'
import type { DashboardFigures } from '../dashboard/summary.ts'
import type { Prisma, PrismaClient } from '../generated/prisma/client.ts'
import { INVOICE_INCLUDE, type InvoiceView, toInvoiceView } from '../invoices/invoice.ts'

/** GET /invoices/:id. */
export async function sqlInvoice(prisma: PrismaClient, id: number): Promise<InvoiceView | null> {
  const row = await prisma.invoice.findUnique({ where: { id }, include: INVOICE_INCLUDE })
  return row === null ? null : toInvoiceView(row)
}

function everyWord(
  words: string,
  fields: (word: string) => Prisma.InvoiceWhereInput[],
): Prisma.InvoiceWhereInput {
  return {
    AND: words
      .split(/\s+/)
      .filter(Boolean)
      .map((word) => ({ OR: fields(word) })),
  }
}

/** GET /search?q=: the matching count and the newest 20 ids (every word in description, lines or client). */
export async function sqlSearch(
  prisma: PrismaClient,
  words: string,
): Promise<{ total: number; ids: number[] }> {
  const where = everyWord(words, (word) => [
    { description: { contains: word } },
    { client: { name: { contains: word } } },
    { lines: { some: { description: { contains: word } } } },
  ])
  const [total, rows] = await Promise.all([
    prisma.invoice.count({ where }),
    prisma.invoice.findMany({ where, select: { id: true }, orderBy: { issuedAt: 'desc' }, take: 20 }),
  ])
  return { total, ids: rows.map((row) => row.id) }
}

/** GET /autocomplete?q=: ids whose client name, description or lines contain every word (the last one partial). */
export async function sqlAutocomplete(prisma: PrismaClient, words: string, take?: number): Promise<number[]> {
  const rows = await prisma.invoice.findMany({
    where: everyWord(words, (word) => [
      { description: { contains: word } },
      { client: { name: { contains: word } } },
      { lines: { some: { description: { contains: word } } } },
    ]),
    select: { id: true },
    orderBy: { id: 'asc' },
    ...(take === undefined ? {} : { take }),
  })
  return rows.map((row) => row.id)
}

/** GET /dashboard's figures: every figure of the view, recomputed in SQL (`dashboard/dashboard-sql.ts`). */
export function sqlDashboard(prisma: PrismaClient, now = Date.now()): Promise<DashboardFigures> {
  return sqlDashboardFigures(prisma, now)
}
