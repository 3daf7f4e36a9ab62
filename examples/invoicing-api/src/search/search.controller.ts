/**
 * GET /search?q=&status= (relevance over description, lines and client name; every word must
 * match; accents optional through the Spanish preset) and GET /autocomplete?q= (type-ahead: the
 * last word may be partial; an invoice-number prefix such as `FAC-2026-0001` searches numbers).
 */
import type { SearchRepositoryOf } from '@ayala/nestjs/search'
import type { Hit } from '@ayala/search'
import { BadRequestException, Controller, Get, Inject, Query } from '@nestjs/common'
import { INVOICE_SEARCH } from '../invoices/invoice.repository.ts'
import { INVOICE_STATUSES } from '../invoices/invoice.ts'
import type { InvoiceDocument, InvoiceIndex } from '../invoices/invoice-index.ts'

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

function text(q: string | undefined): string {
  const value = (q ?? '').trim()
  if (value === '' || value.length > 200) throw new BadRequestException('q must be 1 to 200 characters')
  return value
}

function size(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new BadRequestException('size must be 1 to 100')
  return n
}

const INVOICE_NUMBER_PREFIX = /^fac-[\d-]*$/i

/** GET /search and GET /autocomplete over the invoice index. */
@Controller()
export class SearchController {
  constructor(@Inject(INVOICE_SEARCH) private readonly invoices: SearchRepositoryOf<InvoiceIndex>) {}

  @Get('search')
  async search(
    @Query('q') q?: string,
    @Query('status') status?: string,
    @Query('size') rawSize?: string,
  ): Promise<SearchAnswer> {
    const words = text(q)
    if (status !== undefined && !(INVOICE_STATUSES as readonly string[]).includes(status)) {
      throw new BadRequestException(`status must be one of ${INVOICE_STATUSES.join(', ')}`)
    }
    const { q: query } = this.invoices
    const result = await this.invoices.search({
      query: query.multiMatch({ description: 2, lines: 1, clientName: 3 }, words, { operator: 'and' }),
      filter: status === undefined ? [] : [query.term('status', status)],
      size: size(rawSize, 20),
      trackTotalHits: true,
    })
    return { total: result.total?.value ?? result.hits.length, hits: result.hits.map(toHit) }
  }

  @Get('autocomplete')
  async autocomplete(@Query('q') q?: string, @Query('size') rawSize?: string): Promise<SearchAnswer> {
    const words = text(q)
    const { q: query } = this.invoices
    const result = await this.invoices.search({
      query: INVOICE_NUMBER_PREFIX.test(words)
        ? query.prefix('number', words)
        : query.autocomplete('suggest', words),
      size: size(rawSize, 8),
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
