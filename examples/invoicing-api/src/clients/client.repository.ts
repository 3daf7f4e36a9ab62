/**
 * Clients in MariaDB through Prisma, read through the two-tier cache (`client:<id>`, the same
 * entries for one client and for the names of many: `names()`).
 *
 * A change of a client changes every invoice that shows it: the invoice's `client` object in
 * `GET /invoices/:id`, its name in list pages and in the search document. So `update` runs, in
 * one transaction: lock the client's invoices (invoice rows first, then the client row, the
 * order of every write: `database/transactions.ts`), update the client (version + 1), raise each
 * of its invoices' version by one (the served invoice changed, and the search index takes a
 * document only with a higher external version), and record the effects: one search upsert per
 * invoice and the cache tags `client:<id>` (its reads, the list pages showing it) and
 * `invoice:<id>` of each invoice. The dashboard needs no event: its figures hold client ids,
 * names are read here when a figure is shown.
 */
import { type Cache, Cacheable } from '@ayala/cache'
import { InjectCache } from '@ayala/nestjs'
import { InjectOutbox, InjectOutboxRelay } from '@ayala/nestjs/outbox'
import { cacheEffect, type Outbox, type OutboxEffect, type OutboxRelay } from '@ayala/outbox'
import { indexEffect } from '@ayala/outbox/search'
import { ConflictException, Inject, Injectable, Logger, NotFoundException } from '@nestjs/common'
import type { Database } from '../database/connection.ts'
import { afterCommit, checkVersion } from '../database/guarded-write.ts'
import { type Tx, writeTransaction } from '../database/transactions.ts'
import { type AppSettings, DATABASE, SETTINGS } from '../infrastructure.ts'
import { INVOICE_INCLUDE, toInvoiceView } from '../invoices/invoice.ts'
import { toInvoiceDocument } from '../invoices/invoice-index.ts'
import type { ClientInput, ClientPatch } from '../validation/bodies.ts'
import { encodeCursor } from '../validation/cursor.ts'
import { CLIENT_SELECT, type ClientView, toClientView } from './client.ts'

/** One page of clients. */
export interface ClientPage {
  items: ClientView[]
  nextCursor: string | null
}

/** Invoices loaded (and tags recorded) per round of a rename. */
const RENAME_BATCH = 500

/** Whether `error` is a unique-key violation (a duplicate `tax_id`). */
export function isDuplicateKey(error: unknown): boolean {
  let current: unknown = error
  for (let depth = 0; depth < 6 && current !== null && typeof current === 'object'; depth++) {
    const e = current as {
      code?: unknown
      meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; kind?: unknown } } }
    }
    if (e.code === 'P2002') return true
    const cause = e.meta?.driverAdapterError?.cause
    if (
      cause !== undefined &&
      (Number(cause.originalCode) === 1062 || cause.kind === 'UniqueConstraintViolation')
    )
      return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}

function duplicateTaxId(taxId: string): ConflictException {
  return new ConflictException(`a client with taxId ${taxId} exists`)
}

/** Client reads and writes. */
@Injectable()
export class ClientRepository {
  private readonly logger = new Logger('ClientRepository')

  constructor(
    @Inject(DATABASE) private readonly db: Database,
    @Inject(SETTINGS) private readonly settings: AppSettings,
    @InjectOutbox() private readonly outbox: Outbox,
    @InjectOutboxRelay() private readonly relay: OutboxRelay | null,
    @InjectCache() private readonly cache: Cache,
  ) {}

  /** The client, or null. Cached 10 minutes under `client:<id>`. */
  @Cacheable({
    key: (id: number) => `client:${id}`,
    tags: (id: number) => [`client:${id}`],
    ttl: '10m',
  })
  async findById(id: number): Promise<ClientView | null> {
    const row = await this.db.prisma.client.findUnique({ where: { id }, select: CLIENT_SELECT })
    return row === null ? null : toClientView(row)
  }

  /** The names of `ids` (the same cache entries as `findById`: one round trip for the misses). */
  async names(ids: readonly number[]): Promise<Map<number, string>> {
    const unique = [...new Set(ids)]
    if (unique.length === 0) return new Map()
    const keys = unique.map((id) => `client:${id}`)
    const views = await this.cache.getOrSetMany<ClientView | null>(
      keys,
      async () => {
        const rows = await this.db.prisma.client.findMany({
          where: { id: { in: unique } },
          select: CLIENT_SELECT,
        })
        const byId = new Map(rows.map((row) => [row.id, toClientView(row)]))
        return unique.map((id) => byId.get(id) ?? null)
      },
      { tags: (key) => [key], ttl: '10m' },
    )
    const names = new Map<number, string>()
    for (const view of views) if (view) names.set(view.id, view.name)
    return names
  }

  /** A page of clients by id, after `afterId`. */
  async list(afterId: number | undefined, limit: number): Promise<ClientPage> {
    const rows = await this.db.prisma.client.findMany({
      where: afterId === undefined ? {} : { id: { gt: afterId } },
      orderBy: { id: 'asc' },
      take: limit + 1,
      select: CLIENT_SELECT,
    })
    const items = rows.slice(0, limit).map(toClientView)
    const last = items.at(-1)
    return {
      items,
      nextCursor: rows.length > limit && last ? encodeCursor('clients', '', [last.id]) : null,
    }
  }

  /** Create a client; 409 when its `taxId` exists. */
  async create(input: ClientInput): Promise<ClientView> {
    let created: ClientView
    try {
      created = await writeTransaction(this.db, async (tx) => {
        const row = await tx.client.create({ data: input, select: CLIENT_SELECT })
        // A read of this id before it existed may be cached as "none".
        await this.outbox.enqueue(tx, [cacheEffect({ tags: [`client:${row.id}`] })])
        return toClientView(row)
      })
    } catch (error) {
      if (isDuplicateKey(error)) throw duplicateTaxId(input.taxId)
      throw error
    }
    await afterCommit([`client:${created.id}`], this.relay, this.cache, this.logger)
    return created
  }

  /** Apply `patch` to the client and to every copy of its invoices (see the module note). */
  async update(id: number, patch: ClientPatch): Promise<ClientView> {
    let result: { client: ClientView; tags: string[] }
    try {
      result = await writeTransaction(this.db, (tx) => this.updateIn(tx, id, patch), { timeout: 60_000 })
    } catch (error) {
      if (isDuplicateKey(error)) throw duplicateTaxId(patch.taxId ?? '')
      throw error
    }
    await afterCommit(result.tags, this.relay, this.cache, this.logger)
    return result.client
  }

  private async updateIn(
    tx: Tx,
    id: number,
    patch: ClientPatch,
  ): Promise<{ client: ClientView; tags: string[] }> {
    const invoiceIds = (
      await tx.$queryRaw<Array<{ id: number }>>`
        SELECT id FROM invoices WHERE client_id = ${id} ORDER BY id FOR UPDATE`
    ).map((row) => Number(row.id))
    const [locked] = await tx.$queryRaw<Array<{ version: number }>>`
      SELECT version FROM clients WHERE id = ${id} FOR UPDATE`
    if (locked === undefined) throw new NotFoundException(`client ${id} not found`)
    checkVersion('client', id, Number(locked.version), patch.version)
    const row = await tx.client.update({
      where: { id },
      data: {
        ...(patch.name === undefined ? {} : { name: patch.name }),
        ...(patch.taxId === undefined ? {} : { taxId: patch.taxId }),
        ...(patch.city === undefined ? {} : { city: patch.city }),
        version: { increment: 1 },
      },
      select: CLIENT_SELECT,
    })
    const tags = [`client:${id}`]
    const effects: OutboxEffect[] = []
    if (invoiceIds.length > 0) {
      await tx.invoice.updateMany({ where: { clientId: id }, data: { version: { increment: 1 } } })
      for (let from = 0; from < invoiceIds.length; from += RENAME_BATCH) {
        const batch = invoiceIds.slice(from, from + RENAME_BATCH)
        const rows = await tx.invoice.findMany({ where: { id: { in: batch } }, include: INVOICE_INCLUDE })
        for (const invoice of rows.map(toInvoiceView)) {
          effects.push(
            indexEffect({
              op: 'upsert',
              index: this.settings.names.index,
              id: String(invoice.id),
              version: invoice.version,
              document: { ...toInvoiceDocument(invoice) },
            }),
          )
        }
        const invoiceTags = batch.map((invoiceId) => `invoice:${invoiceId}`)
        effects.push(cacheEffect({ tags: invoiceTags }))
        tags.push(...invoiceTags)
      }
    }
    effects.push(cacheEffect({ tags: [`client:${id}`] }))
    await this.outbox.enqueue(tx, effects)
    return { client: toClientView(row), tags }
  }
}
