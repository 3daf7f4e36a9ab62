/**
 * Invoices in MariaDB through Prisma, read through the two-tier cache.
 *
 * - `findById` is `@Cacheable`: L1 (in process) then L2 (Redis) then the database, tagged
 *   `invoice:<id>` and `client:<id>`; `AyalaCacheModule` binds its cache to this provider.
 * - `update` runs one transaction that checks the version (optimistic lock), writes the row and
 *   records the search-index event in the outbox (the outbox worker indexes it after the commit;
 *   a rollback indexes nothing). After the commit it produces the Kafka event the dashboard
 *   aggregator applies (carrying the previous figures to retract), and `@CacheInvalidate` drops
 *   `invoice:<id>` and the cached reports on every instance (the cache's bus), so the next read
 *   loads the new row.
 *
 * The Kafka event is produced after the commit, not through an outbox: if the process dies
 * between the two, the dashboard misses that change until a rebuild. The search index has no such
 * gap (its event is in the transaction).
 */
import { Cacheable, CacheInvalidate } from '@ayala/cache'
import type { SearchRepositoryOf } from '@ayala/nestjs/search'
import type { SqlExecutor } from '@ayala/search'
import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common'
import type { Database } from '../database/connection.ts'
import type { Prisma } from '../generated/prisma/client.ts'
import { DATABASE, INVOICE_EVENTS, type InvoiceEvents } from '../infrastructure.ts'
import { INVOICE_INCLUDE, type InvoiceView, toInvoiceView } from './invoice.ts'
import { invoiceFigures } from './invoice-events.ts'
import { type InvoiceIndex, toInvoiceDocument } from './invoice-index.ts'

/** Token of the invoice search repository (an alias of the module's, whose name is per dataset). */
export const INVOICE_SEARCH = Symbol('invoicing:invoice-search')

/** What PATCH /invoices/:id may change. */
export interface InvoicePatch {
  status?: string | undefined
  description?: string | undefined
  /** `YYYY-MM-DD`. */
  dueAt?: string | undefined
}

/**
 * The outbox writes with Prisma's interactive transaction: the outbox runs one parameterized
 * `INSERT`, which `$executeRawUnsafe` runs on the transaction's connection.
 */
function outboxExecutor(tx: Prisma.TransactionClient): SqlExecutor {
  return { query: (sql, params = []) => tx.$executeRawUnsafe(sql, ...params) }
}

/** Invoice reads and writes. */
@Injectable()
export class InvoiceRepository {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(INVOICE_SEARCH) private readonly search: SearchRepositoryOf<InvoiceIndex>,
    @Inject(INVOICE_EVENTS) private readonly events: InvoiceEvents,
  ) {}

  /** The invoice (with client and lines), or null. Cached 10 minutes, tag-invalidated on writes. */
  @Cacheable({
    key: (id: number) => `invoice:${id}`,
    tags: (id: number) => [`invoice:${id}`],
    ttl: '10m',
  })
  async findById(id: number): Promise<InvoiceView | null> {
    return this.load(id)
  }

  /** The same read straight from the database (no cache): the demo's SQL-only figure. */
  async load(id: number): Promise<InvoiceView | null> {
    const row = await this.db.prisma.invoice.findUnique({ where: { id }, include: INVOICE_INCLUDE })
    return row === null ? null : toInvoiceView(row)
  }

  /** Apply `patch`; returns the invoice as written. */
  @CacheInvalidate({ tags: (id: number) => [`invoice:${id}`, 'reports'] })
  async update(id: number, patch: InvoicePatch): Promise<InvoiceView> {
    const { before, after } = await this.db.prisma.$transaction(async (tx) => {
      const current = await tx.invoice.findUnique({ where: { id }, include: INVOICE_INCLUDE })
      if (current === null) throw new NotFoundException(`invoice ${id} not found`)
      const written = await tx.invoice.updateMany({
        where: { id, version: current.version },
        data: {
          ...(patch.status === undefined ? {} : { status: patch.status }),
          ...(patch.description === undefined ? {} : { description: patch.description }),
          ...(patch.dueAt === undefined ? {} : { dueAt: new Date(`${patch.dueAt}T00:00:00Z`) }),
          version: { increment: 1 },
        },
      })
      if (written.count !== 1) throw new ConflictException(`invoice ${id} changed concurrently, retry`)
      const updated = toInvoiceView(
        await tx.invoice.findUniqueOrThrow({ where: { id }, include: INVOICE_INCLUDE }),
      )
      await this.search.enqueueUpsert(outboxExecutor(tx), toInvoiceDocument(updated), updated.version)
      return { before: toInvoiceView(current), after: updated }
    })
    await this.events.send([
      {
        invoiceId: String(id),
        version: after.version,
        at: Date.now(),
        invoice: invoiceFigures(after),
        previous: invoiceFigures(before),
      },
    ])
    return after
  }
}
