/**
 * `GET /invoices`: pages of invoices, newest issue date first (then id, descending), filtered by
 * client, status and issue dates, with keyset cursors (the last item's `(issuedAt, id)`), served
 * from the two-tier cache.
 *
 * A page's tags depend on what it holds (the days it covers, the clients it shows:
 * `list-tags.ts`), and a cache entry's tag versions must be read before its loader runs (the
 * refill race). So a miss reads the page once to learn its tags, then loads it again inside
 * `getOrSet` with those tags; if the second read covers more (rows deleted in between moved its
 * last item to an older day, or it shows another client), it is not stored and the two steps run
 * again (3 times at most, then the page is served uncached). A hit costs one cache read.
 *
 * Keyset cursors make paging stable under concurrent writes: a page starts strictly after the
 * previous page's last `(issuedAt, id)`, so rows that stay in place are neither skipped nor
 * repeated, whatever is inserted or deleted meanwhile.
 */
import type { Cache } from '@ayala/cache'
import { InjectCache } from '@ayala/nestjs'
import { Inject, Injectable } from '@nestjs/common'
import type { Database } from '../database/connection.ts'
import type { Prisma } from '../generated/prisma/client.ts'
import { DATABASE } from '../infrastructure.ts'
import { type CursorValues, encodeCursor } from '../validation/cursor.ts'
import { isoDate } from './invoice.ts'
import { type PageRange, pageRange, pageTags } from './list-tags.ts'

/** The filters of a list (the cursor's scope). */
export interface ListFilters {
  clientId?: number | undefined
  status?: string | undefined
  /** Oldest issue date, `YYYY-MM-DD`, inclusive. */
  from?: string | undefined
  /** Newest issue date, inclusive. */
  to?: string | undefined
}

/** One listed invoice. */
export interface InvoiceListItem {
  id: number
  number: string
  status: string
  issuedAt: string
  dueAt: string
  currency: string
  totalCents: number
  version: number
  client: { id: number; name: string }
}

/** One page. */
export interface InvoicePage {
  items: InvoiceListItem[]
  /** The cursor of the next page, or null on the last one. */
  nextCursor: string | null
}

/** The position a page starts after: the previous page's last `(issuedAt, id)`. */
export interface ListPosition {
  issuedAt: string
  id: number
}

/** The cursor scope of `filters`: a cursor continues only the list it was issued for. */
export function listScope(filters: ListFilters): string {
  return [filters.clientId ?? '', filters.status ?? '', filters.from ?? '', filters.to ?? ''].join('|')
}

/** The position of cursor values `[issuedAt, id]`, or undefined when they are not one. */
export function listPosition(values: CursorValues): ListPosition | undefined {
  const [issuedAt, id] = values
  if (
    values.length !== 2 ||
    typeof issuedAt !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}$/.test(issuedAt) ||
    typeof id !== 'number' ||
    !Number.isSafeInteger(id) ||
    id < 1
  ) {
    return undefined
  }
  return { issuedAt, id }
}

class RangeMoved extends Error {}

const day = (date: string) => new Date(`${date}T00:00:00Z`)

/** Cached list pages. */
@Injectable()
export class InvoiceListRepository {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @InjectCache() private readonly cache: Cache,
  ) {}

  /** A page, from the cache when it holds it (see the module note). */
  async page(filters: ListFilters, after: ListPosition | undefined, limit: number): Promise<InvoicePage> {
    const key = `ilist:${listScope(filters)}|${after ? `${after.issuedAt}.${after.id}` : ''}|${limit}`
    const hit = await this.cache.get<InvoicePage>(key)
    if (hit !== undefined) return hit
    for (let attempt = 0; attempt < 3; attempt++) {
      const probe = await this.read(filters, after, limit)
      const tags = pageTags(filters, probe.range, probe.clients)
      try {
        return await this.cache.getOrSet(
          key,
          async () => {
            const fresh = await this.read(filters, after, limit)
            const clients = new Set(probe.clients)
            if (fresh.range.from < probe.range.from || fresh.clients.some((id) => !clients.has(id))) {
              throw new RangeMoved()
            }
            return fresh.page
          },
          { tags, ttl: '10m' },
        )
      } catch (error) {
        if (!(error instanceof RangeMoved)) throw error
      }
    }
    return (await this.read(filters, after, limit)).page
  }

  /** The page straight from the database: the SQL truth, and the range and clients it covers. */
  async read(
    filters: ListFilters,
    after: ListPosition | undefined,
    limit: number,
  ): Promise<{ page: InvoicePage; range: PageRange; clients: number[] }> {
    const where: Prisma.InvoiceWhereInput = {
      ...(filters.clientId === undefined ? {} : { clientId: filters.clientId }),
      ...(filters.status === undefined ? {} : { status: filters.status }),
      ...(filters.from === undefined && filters.to === undefined
        ? {}
        : {
            issuedAt: {
              ...(filters.from === undefined ? {} : { gte: day(filters.from) }),
              ...(filters.to === undefined ? {} : { lte: day(filters.to) }),
            },
          }),
      ...(after === undefined
        ? {}
        : {
            OR: [
              { issuedAt: { lt: day(after.issuedAt) } },
              { issuedAt: day(after.issuedAt), id: { lt: after.id } },
            ],
          }),
    }
    const rows = await this.db.prisma.invoice.findMany({
      where,
      orderBy: [{ issuedAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      select: {
        id: true,
        number: true,
        status: true,
        issuedAt: true,
        dueAt: true,
        currency: true,
        totalCents: true,
        version: true,
        client: { select: { id: true, name: true } },
      },
    })
    const more = rows.length > limit
    const items = rows.slice(0, limit).map((row) => ({
      id: row.id,
      number: row.number,
      status: row.status,
      issuedAt: isoDate(row.issuedAt),
      dueAt: isoDate(row.dueAt),
      currency: row.currency,
      totalCents: row.totalCents,
      version: row.version,
      client: { id: row.client.id, name: row.client.name },
    }))
    const last = items.at(-1)
    return {
      page: {
        items,
        nextCursor:
          more && last !== undefined
            ? encodeCursor('invoices', listScope(filters), [last.issuedAt, last.id])
            : null,
      },
      range: pageRange(filters, after?.issuedAt, last?.issuedAt, more),
      clients: items.map((item) => item.client.id),
    }
  }
}
