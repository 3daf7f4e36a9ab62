/**
 * GET /search?q=&status= (relevance over description, lines and client name; every word must
 * match; accents optional through the Spanish preset) and GET /autocomplete?q= (type-ahead: the
 * last word may be partial; an invoice-number prefix such as `FAC-2026-0001` searches numbers).
 *
 * The words are plain text: `OR`, `-` and quotes are words or punctuation, never operators (the
 * SDK's default; see docs/search-queries.md).
 *
 * When the engine cannot answer within its budget (1 s; hung, refused, breaker open, credentials
 * refused), `/search` answers from MariaDB instead (the SQL version of the query, as in
 * `cli/reference-queries.ts`, with the status filter and size) and says so: `degraded: true` and
 * the `reason`. `/autocomplete` has no fallback: a type-ahead box is better empty than slow, so it
 * answers 503 at once (`SearchErrorFilter`), with `Retry-After`.
 */
import { SearchErrorFilter, type SearchRepositoryOf } from '@ayala/nestjs/search'
import type { Hit, SearchFallbackAnswer } from '@ayala/search'
import { Controller, Get, Inject, Query, UseFilters, UseInterceptors } from '@nestjs/common'
import type { Database } from '../database/connection.ts'
import type { Prisma } from '../generated/prisma/client.ts'
import { DATABASE } from '../infrastructure.ts'
import { INVOICE_SEARCH } from '../invoices/invoice.repository.ts'
import { INVOICE_INCLUDE, INVOICE_STATUSES, toInvoiceView } from '../invoices/invoice.ts'
import { type InvoiceDocument, type InvoiceIndex, toInvoiceDocument } from '../invoices/invoice-index.ts'
import { EnumPipe, InputInterceptor, IntegerPipe, TextPipe } from '../validation/input.ts'

/** One search hit. */
export interface InvoiceHit {
  id: number
  number: string
  clientName: string
  description: string
  status: string
  issuedAt: string
  totalCents: number
  score: number | null
}

/** A page of hits. */
export interface SearchAnswer {
  total: number
  hits: InvoiceHit[]
  /** Present (true) when the search engine could not answer and the database did. */
  degraded?: true
  /** With `degraded`: why (`timeout`, `connection`, `overloaded`, `circuit-open`, `auth`). */
  reason?: string
}

/** `q`: 1 to 200 characters after trimming (validation/input.ts); the index's limit is 256. */
const QUERY_TEXT = new TextPipe(200)

const INVOICE_NUMBER_PREFIX = /^fac-[\d-]*$/i

/** GET /search and GET /autocomplete over the invoice index. */
@Controller()
@UseInterceptors(InputInterceptor)
@UseFilters(SearchErrorFilter)
export class SearchController {
  constructor(
    @Inject(INVOICE_SEARCH) private readonly invoices: SearchRepositoryOf<InvoiceIndex>,
    @Inject(DATABASE) private readonly db: Database,
  ) {}

  @Get('search')
  async search(
    @Query('q', QUERY_TEXT) words: string,
    @Query('status', new EnumPipe(INVOICE_STATUSES)) status: string | undefined,
    @Query('size', new IntegerPipe(1, 100, 20)) size: number,
  ): Promise<SearchAnswer> {
    const { q: query } = this.invoices
    const result = await this.invoices.search({
      query: query.multiMatch({ description: 2, lines: 1, clientName: 3 }, words, { operator: 'and' }),
      filter: status === undefined ? [] : [query.term('status', status)],
      size,
      trackTotalHits: true,
      fallback: () => sqlSearchHits(this.db, words, status, size),
    })
    return {
      total: result.total?.value ?? result.hits.length,
      hits: result.hits.map(toHit),
      ...(result.degraded ? { degraded: true as const, reason: result.degraded.reason } : {}),
    }
  }

  @Get('autocomplete')
  async autocomplete(
    @Query('q', QUERY_TEXT) words: string,
    @Query('size', new IntegerPipe(1, 100, 8)) size: number,
  ): Promise<SearchAnswer> {
    const { q: query } = this.invoices
    const result = await this.invoices.search({
      query: INVOICE_NUMBER_PREFIX.test(words)
        ? query.prefix('number', words)
        : query.autocomplete('suggest', words),
      size,
    })
    return { total: result.total?.value ?? result.hits.length, hits: result.hits.map(toHit) }
  }
}

/**
 * `/search` asked to MariaDB: every word in the description, a line or the client's name
 * (`LIKE '%word%'`; the collation ignores case and accents), newest first, with the status filter
 * and size; the same question as `sqlSearch` in `cli/reference-queries.ts`. It scans the table
 * (no index serves a leading wildcard): right for a fallback of this example's size, seconds at a
 * million rows.
 */
async function sqlSearchHits(
  db: Database,
  words: string,
  status: string | undefined,
  size: number,
): Promise<SearchFallbackAnswer<InvoiceDocument, Record<never, never>>> {
  const where: Prisma.InvoiceWhereInput = {
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
      ...(status === undefined ? [] : [{ status }]),
    ],
  }
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

function toHit(hit: Hit<InvoiceDocument>): InvoiceHit {
  return {
    id: Number(hit.source.id),
    number: hit.source.number,
    clientName: hit.source.clientName,
    description: hit.source.description,
    status: hit.source.status,
    issuedAt: String(hit.source.issuedAt),
    totalCents: hit.source.totalCents,
    score: hit.score,
  }
}
