/**
 * Invoices in MariaDB through Prisma, read through the two-tier cache.
 *
 * - `findById` is `@Cacheable`: L1 (in process) then L2 (Redis) then the database, tagged
 *   `invoice:<id>` and `client:<id>`; `AyalaCacheModule` binds its cache to this provider.
 * - `update` runs one transaction that checks the version (optimistic lock), writes the row and
 *   records, in the same transaction, every effect the write owes the copies (`@ayala/outbox`):
 *   the search document (external version = the row's version), the Kafka event the dashboard
 *   aggregator applies (the invoice's figures at that version: an entity view applies each
 *   version once, so a relay that delivers it twice cannot count it twice), and the cache tags
 *   to invalidate. A rollback records nothing; a commit cannot lose an effect, even if the
 *   process dies right after it: the relay of any instance delivers it, retrying for as long as a
 *   copy is unreachable.
 * - For latency, the write path also acts at once: `@CacheInvalidate` drops `invoice:<id>` and
 *   the cached reports on every instance right after the commit (while Redis is unreachable it
 *   applies locally and is replayed; the outbox's cache effect is the guarantee), and the relay is
 *   woken so the event and the document leave within a round trip instead of the next poll.
 *   A copy that is down never turns a committed write into an error.
 */
import { Cacheable, CacheInvalidate } from '@ayala/cache'
import { InjectOutbox, InjectOutboxRelay } from '@ayala/nestjs/outbox'
import { cacheEffect, kafkaEffect, type Outbox, type OutboxEffect, type OutboxRelay } from '@ayala/outbox'
import { indexEffect } from '@ayala/outbox/search'
import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common'
import type { Database } from '../database/connection.ts'
import { type AppSettings, DATABASE, SETTINGS } from '../infrastructure.ts'
import { INVOICE_INCLUDE, type InvoiceView, toInvoiceView } from './invoice.ts'
import { type InvoiceEvent, invoiceFigures } from './invoice-events.ts'
import { toInvoiceDocument } from './invoice-index.ts'

/** Token of the invoice search repository (an alias of the module's, whose name is per dataset). */
export const INVOICE_SEARCH = Symbol('invoicing:invoice-search')

/** What PATCH /invoices/:id may change. */
export interface InvoicePatch {
  status?: string | undefined
  description?: string | undefined
  /** `YYYY-MM-DD`. */
  dueAt?: string | undefined
}

/** The effects of one committed write of `invoice` (previously `before`). */
export function invoiceEffects(
  settings: AppSettings,
  invoice: InvoiceView,
  before: InvoiceView | undefined,
): OutboxEffect[] {
  const event: InvoiceEvent = {
    invoiceId: String(invoice.id),
    version: invoice.version,
    at: Date.now(),
    invoice: invoiceFigures(invoice),
    previous: before === undefined ? undefined : invoiceFigures(before),
  }
  return [
    indexEffect({
      op: 'upsert',
      index: settings.names.index,
      id: String(invoice.id),
      version: invoice.version,
      document: { ...toInvoiceDocument(invoice) },
    }),
    kafkaEffect({ topic: settings.names.topic, key: event.invoiceId, value: event }),
    cacheEffect({ tags: [`invoice:${invoice.id}`, 'reports'] }),
  ]
}

/** Invoice reads and writes. */
@Injectable()
export class InvoiceRepository {
  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(SETTINGS) private readonly settings: AppSettings,
    @InjectOutbox() private readonly outbox: Outbox,
    @InjectOutboxRelay() private readonly relay: OutboxRelay | null,
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
    const after = await this.db.prisma.$transaction(async (tx) => {
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
      // After the UPDATE that locked the row: effects of two writes of one invoice are recorded
      // (and sequenced) in the order the writes committed.
      await this.outbox.enqueue(tx, invoiceEffects(this.settings, updated, toInvoiceView(current)))
      return updated
    })
    this.relay?.wake()
    return after
  }
}
