/**
 * Invoices in MariaDB through Prisma, read through the two-tier cache.
 *
 * - `findById` is `@Cacheable`: L1 (in process) then L2 (Redis) then the database, tagged
 *   `invoice:<id>`; `AyalaCacheModule` binds its cache to this provider.
 * - `create`, `update` and `remove` each run one transaction (`database/transactions.ts`: row
 *   locks first, a deadlock retried) that writes the rows and records, in the same transaction,
 *   every effect the write owes the copies (`invoice-effects.ts`, `@ayala/outbox`): the search
 *   document, the Kafka event the dashboard aggregator applies once per version, and the cache
 *   tags. A rollback records nothing; a commit cannot lose an effect, even if the process dies
 *   right after it: the relay of any instance delivers it, retrying for as long as a copy is
 *   unreachable. A `version` given by the client must be the row's (else 409, nothing written;
 *   the guard and the after-commit half are `database/guarded-write.ts`).
 * - For latency, the write path also acts at once after the commit: it invalidates the same
 *   tags on every instance (while Redis is unreachable the cache applies them locally and replays
 *   them; the outbox's cache effect is the guarantee), and wakes the relay so the event and the
 *   document leave within a round trip instead of the next poll. A copy that is down never turns
 *   a committed write into an error.
 */
import { randomBytes } from 'node:crypto'
import { type Cache, Cacheable } from '@ayala/cache'
import { InjectCache } from '@ayala/nestjs'
import { InjectOutbox, InjectOutboxRelay } from '@ayala/nestjs/outbox'
import type { Outbox, OutboxRelay } from '@ayala/outbox'
import { Inject, Injectable, Logger, NotFoundException } from '@nestjs/common'
import type { Database } from '../database/connection.ts'
import { afterCommit, checkVersion, guardedWrite, RowMoved } from '../database/guarded-write.ts'
import { lockClient, type Tx, writeTransaction } from '../database/transactions.ts'
import { type AppSettings, DATABASE, SETTINGS } from '../infrastructure.ts'
import { type InvoiceInput, type InvoicePatch, invoiceAmounts, type LineInput } from '../validation/bodies.ts'
import { INVOICE_INCLUDE, type InvoiceView, toInvoiceView } from './invoice.ts'
import { invoiceEffects, invoiceWriteTags } from './invoice-effects.ts'

export type { InvoicePatch } from '../validation/bodies.ts'

/** Token of the invoice search repository (an alias of the module's, whose name is per dataset). */
export const INVOICE_SEARCH = Symbol('invoicing:invoice-search')

/** What DELETE /invoices/:id answers. */
export interface DeletedInvoice {
  id: number
  deleted: true
  /** The tombstone's version (the last version plus one). */
  version: number
}

/** `FAC-2026-000123`: the issue year and the id (6 digits at least), as the seed numbers them. */
export function invoiceNumber(issuedAt: string, id: number): string {
  return `FAC-${issuedAt.slice(0, 4)}-${String(id).padStart(6, '0')}`
}

function day(date: string): Date {
  return new Date(`${date}T00:00:00Z`)
}

/** The rows of `lines` (positions from 1), in the shape the API serves them. */
function lineRows(lines: readonly LineInput[]) {
  return lines.map((line, i) => ({
    position: i + 1,
    description: line.description,
    quantity: line.quantity,
    unitPriceCents: line.unitPriceCents,
    taxRateBp: line.taxRateBp,
  }))
}

/** Invoice reads and writes. */
@Injectable()
export class InvoiceRepository {
  private readonly logger = new Logger('InvoiceRepository')

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(SETTINGS) private readonly settings: AppSettings,
    @InjectOutbox() private readonly outbox: Outbox,
    @InjectOutboxRelay() private readonly relay: OutboxRelay | null,
    @InjectCache() private readonly cache: Cache,
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

  /** Create an invoice: the server numbers it and computes its amounts. 404 for an unknown client. */
  async create(input: InvoiceInput): Promise<InvoiceView> {
    const created = await writeTransaction(this.db, async (tx) => {
      if (!(await lockClient(tx, input.clientId))) {
        throw new NotFoundException(`client ${input.clientId} not found`)
      }
      const row = await tx.invoice.create({
        data: {
          // Unique until the id is known, in the same transaction.
          number: `new-${randomBytes(12).toString('hex')}`,
          clientId: input.clientId,
          status: input.status,
          issuedAt: day(input.issuedAt),
          dueAt: day(input.dueAt),
          currency: input.currency,
          description: input.description,
          ...invoiceAmounts(input.lines),
          lines: { create: lineRows(input.lines) },
        },
        select: { id: true },
      })
      await tx.invoice.update({
        where: { id: row.id },
        data: { number: invoiceNumber(input.issuedAt, row.id) },
      })
      const view = await this.read(tx, row.id)
      await this.outbox.enqueue(tx, invoiceEffects(this.settings, undefined, view))
      return view
    })
    await afterCommit(invoiceWriteTags(undefined, created), this.relay, this.cache, this.logger)
    return created
  }

  /** Apply `patch`; returns the invoice as written. */
  async update(id: number, patch: InvoicePatch): Promise<InvoiceView> {
    const { before, after } = await guardedWrite(this.db, 'invoice', async (tx) => {
      const current = await this.current(tx, id, patch.version)
      const amounts = patch.lines === undefined ? {} : invoiceAmounts(patch.lines)
      // The guard (and the row lock, from here to the commit): still the version just read.
      const written = await tx.invoice.updateMany({
        where: { id, version: current.version },
        data: {
          ...(patch.status === undefined ? {} : { status: patch.status }),
          ...(patch.description === undefined ? {} : { description: patch.description }),
          ...(patch.issuedAt === undefined ? {} : { issuedAt: day(patch.issuedAt) }),
          ...(patch.dueAt === undefined ? {} : { dueAt: day(patch.dueAt) }),
          ...amounts,
          version: { increment: 1 },
        },
      })
      if (written.count !== 1) throw new RowMoved()
      if (patch.lines !== undefined) {
        await tx.invoiceLine.deleteMany({ where: { invoiceId: id } })
        await tx.invoiceLine.createMany({
          data: lineRows(patch.lines).map((line) => ({ ...line, invoiceId: id })),
        })
      }
      // The row as written, from the row read and the patch (no second read under the lock).
      const updated: InvoiceView = {
        ...current,
        ...(patch.status === undefined ? {} : { status: patch.status }),
        ...(patch.description === undefined ? {} : { description: patch.description }),
        ...(patch.issuedAt === undefined ? {} : { issuedAt: patch.issuedAt }),
        ...(patch.dueAt === undefined ? {} : { dueAt: patch.dueAt }),
        ...amounts,
        version: current.version + 1,
        lines: patch.lines === undefined ? current.lines : lineRows(patch.lines),
      }
      // After the UPDATE that locked the row: effects of two writes of one invoice are recorded
      // (and sequenced) in the order the writes committed.
      await this.outbox.enqueue(tx, invoiceEffects(this.settings, current, updated))
      return { before: current, after: updated }
    })
    await afterCommit(invoiceWriteTags(before, after), this.relay, this.cache, this.logger)
    return after
  }

  /** Delete an invoice and its lines: gone from every copy once the effects are delivered. */
  async remove(id: number, version?: number): Promise<DeletedInvoice> {
    const before = await guardedWrite(this.db, 'invoice', async (tx) => {
      const current = await this.current(tx, id, version)
      // The lines go with it (ON DELETE CASCADE).
      const deleted = await tx.invoice.deleteMany({ where: { id, version: current.version } })
      if (deleted.count !== 1) throw new RowMoved()
      await this.outbox.enqueue(tx, invoiceEffects(this.settings, current, undefined, current.version + 1))
      return current
    })
    await afterCommit(invoiceWriteTags(before, undefined), this.relay, this.cache, this.logger)
    return { id, deleted: true, version: before.version + 1 }
  }

  /** The invoice as it is now (404 when there is none; 409 when it is not at `expected`). */
  private async current(tx: Tx, id: number, expected: number | undefined): Promise<InvoiceView> {
    const row = await tx.invoice.findUnique({ where: { id }, include: INVOICE_INCLUDE })
    if (row === null) throw new NotFoundException(`invoice ${id} not found`)
    const view = toInvoiceView(row)
    checkVersion('invoice', id, view.version, expected)
    return view
  }

  private async read(tx: Tx, id: number): Promise<InvoiceView> {
    return toInvoiceView(await tx.invoice.findUniqueOrThrow({ where: { id }, include: INVOICE_INCLUDE }))
  }
}
