/**
 * GET /search (relevance over description, lines and client name; every word must match;
 * accents optional through the Spanish preset; typo-tolerant) and GET /autocomplete (type-ahead
 * over client names, descriptions and line descriptions, the last word partial; an
 * invoice-number prefix such as `FAC-2026-0001` searches numbers).
 *
 * A search first asks the engine for the words exactly. When they find at least
 * {@link TYPO_THRESHOLD} invoices, that is the answer: one request. When they find fewer, the
 * search is typo-tolerant: the words twice, exactly (boost 10) and with `fuzziness: 'AUTO'`
 * (boost 1), so "climatisacion" finds "climatización" and an exact match always ranks above a
 * typo match. The fuzzy clause is most of the engine's time (at 200,000 invoices the engine took
 * 10 ms with it and 5 ms without, docs/benchmarks.md), and words spelled right rarely need it.
 * Each request carries the filters (status, issue dates, amounts, client) as non-scoring clauses;
 * highlights of the three text fields; the facets (counts by status, by month of issue, by amount
 * range) over every hit of the query and filters; and the page after the cursor (`searchAfter`
 * on `[_score, id]`, a total order). The cursor remembers which of the two queries the first page
 * ran, so later pages page through the same hits even if the data changed meanwhile. Both
 * requests share one budget (1 s): the typo-tolerant one gets what the exact one left, and when
 * it cannot answer in that time the exact answer is served with `typos: 'unchecked'`.
 *
 * The words are plain text: `OR`, `-` and quotes are words or punctuation, never operators (the
 * SDK's default; see docs/search-queries.md).
 *
 * When the engine cannot answer within its budget (1 s; hung, refused, breaker open, credentials
 * refused), `/search` answers from MariaDB instead (`search-fallback.ts`) and says so:
 * `degraded: true` and the `reason`; no facets, no next page, and a request with a cursor fails
 * with the engine's error (503). `/autocomplete` has no fallback: a type-ahead box is better
 * empty than slow, so it answers 503 at once (`SearchErrorFilter`), with `Retry-After`.
 */
import { createHash } from 'node:crypto'
import { SearchErrorFilter, type SearchRepositoryOf } from '@ayala/nestjs/search'
import { type Hit, SearchError } from '@ayala/search'
import { Controller, Get, Inject, Query, UseFilters, UseInterceptors } from '@nestjs/common'
import type { Database } from '../database/connection.ts'
import { DATABASE } from '../infrastructure.ts'
import { INVOICE_SEARCH } from '../invoices/invoice.repository.ts'
import { INVOICE_STATUSES } from '../invoices/invoice.ts'
import type { InvoiceDocument, InvoiceIndex } from '../invoices/invoice-index.ts'
import { CursorPipe, decodeCursor, encodeCursor } from '../validation/cursor.ts'
import {
  DatePipe,
  EnumPipe,
  INT_MAX,
  InputInterceptor,
  IntegerPipe,
  InvalidInputException,
  OptionalIdPipe,
  OptionalIntegerPipe,
  TextPipe,
} from '../validation/input.ts'
import { type SearchFilters, sqlSearchHits } from './search-fallback.ts'

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
  /** Highlighted fragments (`<em>` around the matched words), by field. */
  highlight?: Record<string, string[]> | undefined
}

/** One amount range of the facets (cents: `fromCents` inclusive, `toCents` exclusive). */
export interface AmountFacet {
  key: string
  fromCents?: number | undefined
  toCents?: number | undefined
  count: number
}

/** Counts over every hit of the query and filters. */
export interface SearchFacets {
  status: Record<string, number>
  /** By month of issue, `YYYY-MM`. */
  month: Record<string, number>
  amount: AmountFacet[]
}

/** A page of hits. */
export interface SearchAnswer {
  total: number
  hits: InvoiceHit[]
  /** On `/search` answered by the engine. */
  facets?: SearchFacets | undefined
  /** On `/search`: the next page's cursor, null on the last one. */
  nextCursor?: string | null | undefined
  /**
   * On `/search`: present (`'unchecked'`) when the words found fewer than {@link TYPO_THRESHOLD}
   * invoices and the typo-tolerant query could not run within the search's budget: the hits are
   * the exact words' only (facets and cursor included).
   */
  typos?: 'unchecked'
  /** Present (true) when the search engine could not answer and the database did. */
  degraded?: true
  /** With `degraded`: why (`timeout`, `connection`, `overloaded`, `circuit-open`, `auth`). */
  reason?: string
}

/** `q`: 1 to 200 characters after trimming (validation/input.ts); the index's limit is 256. */
const QUERY_TEXT = new TextPipe(200)

const INVOICE_NUMBER_PREFIX = /^fac-[\d-]*$/i

/** The amount ranges of the facet, in cents. */
const AMOUNT_RANGES = [
  { key: '<100', to: 10_000 },
  { key: '100-500', from: 10_000, to: 50_000 },
  { key: '500-1000', from: 50_000, to: 100_000 },
  { key: '1000-5000', from: 100_000, to: 500_000 },
  { key: '>=5000', from: 500_000 },
]

const TEXT_FIELDS = { description: 2, lines: 1, clientName: 3 } as const

/** Fewer exact hits than this, and the search tolerates typos (see the module note). */
export const TYPO_THRESHOLD = 20

/** The budget of one `/search` (both of its engine requests together). */
const SEARCH_BUDGET_MS = 1_000
/** Less than this left after the exact query, and the typo-tolerant one is not sent. */
const MIN_TYPO_BUDGET_MS = 50

/** The last value of a cursor that continues an exact-words search (none: the typo-tolerant one). */
const EXACT = 'exact'

/** The facets' aggregations. */
const FACETS = {
  status: { terms: { field: 'status', size: 10 } },
  month: {
    date_histogram: { field: 'issuedAt', calendar_interval: 'month', format: 'yyyy-MM', min_doc_count: 1 },
  },
  amount: { range: { field: 'totalCents', ranges: AMOUNT_RANGES } },
} as const

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
    @Query('from', DatePipe) from: string | undefined,
    @Query('to', DatePipe) to: string | undefined,
    @Query('minTotalCents', new OptionalIntegerPipe(0, INT_MAX)) minTotalCents: number | undefined,
    @Query('maxTotalCents', new OptionalIntegerPipe(0, INT_MAX)) maxTotalCents: number | undefined,
    @Query('clientId', OptionalIdPipe) clientId: number | undefined,
    @Query('cursor', CursorPipe) cursor: string | undefined,
    @Query('limit', new OptionalIntegerPipe(1, 100)) limit: number | undefined,
    @Query('size', new IntegerPipe(1, 100, 20)) size: number,
  ): Promise<SearchAnswer> {
    if (from !== undefined && to !== undefined && from > to) {
      throw new InvalidInputException('from', 'from must not be after to')
    }
    if (minTotalCents !== undefined && maxTotalCents !== undefined && minTotalCents > maxTotalCents) {
      throw new InvalidInputException('minTotalCents', 'minTotalCents must not be above maxTotalCents')
    }
    const filters: SearchFilters = { status, from, to, minTotalCents, maxTotalCents, clientId }
    const pageSize = limit ?? size
    const scope = createHash('sha256')
      .update(JSON.stringify([words, filters]))
      .digest('base64url')
      .slice(0, 16)
    const position = cursor === undefined ? undefined : [...decodeCursor('cursor', cursor, 'search', scope)]
    // [score, id] continues the typo-tolerant search (and every cursor of earlier releases);
    // [score, id, 'exact'] the exact one.
    const exactPage = position?.length === 3 && position[2] === EXACT
    const after = exactPage ? position?.slice(0, 2) : position
    if (
      after !== undefined &&
      (after.length !== 2 || typeof after[0] !== 'number' || typeof after[1] !== 'string')
    ) {
      throw new InvalidInputException('cursor', 'cursor is not a search position')
    }
    const { q } = this.invoices
    const exact = q.multiMatch(TEXT_FIELDS, words, { operator: 'and', boost: 10 })
    const typoTolerant = {
      bool: {
        should: [exact, q.multiMatch(TEXT_FIELDS, words, { operator: 'and', fuzziness: 'AUTO' })],
        minimum_should_match: 1,
      },
    }
    // One budget for the whole search: the typo-tolerant query gets what the exact one left.
    const started = performance.now()
    const run = (query: typeof exact, budgetMs: number, orDatabase: boolean) =>
      this.invoices.search({
        query,
        timeout: budgetMs,
        filter: [
          ...(status === undefined ? [] : [q.term('status', status)]),
          ...(clientId === undefined ? [] : [q.term('clientId', String(clientId))]),
          ...(from === undefined && to === undefined
            ? []
            : [q.range('issuedAt', { ...(from ? { gte: from } : {}), ...(to ? { lte: to } : {}) })]),
          ...(minTotalCents === undefined && maxTotalCents === undefined
            ? []
            : [
                q.range('totalCents', {
                  ...(minTotalCents === undefined ? {} : { gte: minTotalCents }),
                  ...(maxTotalCents === undefined ? {} : { lte: maxTotalCents }),
                }),
              ]),
        ],
        sort: ['_score'],
        searchAfter: after as Array<string | number> | undefined,
        highlight: {
          fields: ['description', 'lines', 'clientName'],
          fragmentSize: 120,
          numberOfFragments: 2,
        },
        aggs: FACETS,
        size: pageSize,
        trackTotalHits: true,
        fallback: orDatabase
          ? async (error) => {
              if (after !== undefined) throw error
              return sqlSearchHits<typeof FACETS>(this.db, words, filters, pageSize)
            }
          : undefined,
      })
    // A first page runs the exact query; a later one, the query its cursor names.
    let exactOnly = after === undefined || exactPage
    let typosUnchecked = false
    let result = await run(exactOnly ? exact : typoTolerant, SEARCH_BUDGET_MS, true)
    if (after === undefined && !result.degraded && (result.total?.value ?? 0) < TYPO_THRESHOLD) {
      // The exact answer in hand is complete: when the engine cannot run the typo-tolerant
      // query within what is left, that answer is served (and says so), not the database's.
      const left = SEARCH_BUDGET_MS - (performance.now() - started)
      try {
        if (left < MIN_TYPO_BUDGET_MS) typosUnchecked = true
        else {
          result = await run(typoTolerant, left, false)
          exactOnly = false
        }
      } catch (error) {
        if (!(error instanceof SearchError)) throw error
        typosUnchecked = true
      }
    }
    const hits = result.hits.map(toHit)
    if (result.degraded) {
      return {
        total: result.total?.value ?? hits.length,
        hits,
        nextCursor: null,
        degraded: true,
        reason: result.degraded.reason,
      }
    }
    const aggs = result.aggregations
    const last = result.hits.at(-1)
    return {
      total: result.total?.value ?? hits.length,
      hits,
      facets: {
        status: Object.fromEntries(aggs.status.buckets.map((b) => [String(b.key), b.doc_count])),
        month: Object.fromEntries(aggs.month.buckets.map((b) => [b.key_as_string, b.doc_count])),
        amount: aggs.amount.buckets.map((b) => ({
          key: b.key,
          ...(b.from === undefined ? {} : { fromCents: b.from }),
          ...(b.to === undefined ? {} : { toCents: b.to }),
          count: b.doc_count,
        })),
      },
      ...(typosUnchecked ? { typos: 'unchecked' as const } : {}),
      nextCursor:
        hits.length === pageSize && last?.sort !== undefined
          ? encodeCursor('search', scope, [
              ...(last.sort as Array<string | number>),
              ...(exactOnly ? [EXACT] : []),
            ])
          : null,
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
    return {
      total: result.total?.value ?? result.hits.length,
      hits: result.hits.map((hit) => ({ ...toHit(hit), highlight: undefined })),
    }
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
    ...(hit.highlight === undefined ? {} : { highlight: hit.highlight }),
  }
}
