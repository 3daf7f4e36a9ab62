/**
 * GET /search?q=&status= (relevance over description, lines and client name; every word must
 * match; accents optional through the Spanish preset) and GET /autocomplete?q= (type-ahead: the
 * last word may be partial; an invoice-number prefix such as `FAC-2026-0001` searches numbers).
 */
import type { SearchRepositoryOf } from '@ayala/nestjs/search'
import type { Hit } from '@ayala/search'
import { Controller, Get, Inject, Query, UseInterceptors } from '@nestjs/common'
import { INVOICE_SEARCH } from '../invoices/invoice.repository.ts'
import { INVOICE_STATUSES } from '../invoices/invoice.ts'
import type { InvoiceDocument, InvoiceIndex } from '../invoices/invoice-index.ts'
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
}

/** `q`: 1 to 200 characters after trimming (validation/input.ts); the index's limit is 256. */
const QUERY_TEXT = new TextPipe(200)

const INVOICE_NUMBER_PREFIX = /^fac-[\d-]*$/i

/** GET /search and GET /autocomplete over the invoice index. */
@Controller()
@UseInterceptors(InputInterceptor)
export class SearchController {
  constructor(@Inject(INVOICE_SEARCH) private readonly invoices: SearchRepositoryOf<InvoiceIndex>) {}

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
    })
    return { total: result.total?.value ?? result.hits.length, hits: result.hits.map(toHit) }
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
