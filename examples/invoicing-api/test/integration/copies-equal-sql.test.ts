/**
 * Every copy equals SQL after a mix of writes, on the real services and two instances: 300
 * seeded invoices, both instances' caches warmed (invoices, list pages, clients), then 160
 * seeded-random writes spread over both instances, 4 at a time: invoices created, patched
 * (status, dates, description, lines), deleted; clients created and renamed. Once the outbox has
 * drained, compared with SQL and counted (every count must be 0): each invoice read through
 * each instance (404 for the deleted), every list page of the unfiltered list and of 5 clients'
 * lists, every search document (the index's ids, versions and whole documents), and the
 * dashboard's figures, summary and yearly report.
 */
import { isDeepStrictEqual } from 'node:util'
import { createSearchClient } from '@ayala/search'
import type { INestApplication } from '@nestjs/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ResourceNames, ServiceAddresses } from '../../src/config.ts'
import type { DashboardAnswer } from '../../src/dashboard/dashboard.service.ts'
import type { Database } from '../../src/database/connection.ts'
import type { InvoiceView } from '../../src/invoices/invoice.ts'
import type { InvoicePage } from '../../src/invoices/invoice-list.ts'
import { type ApiClient, apiClient, until } from '../helpers/api-client.ts'
import { provisionDataset } from '../helpers/dataset.ts'

const INVOICES = 300
const WRITES = 160

/** mulberry32. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

describe('every copy equals SQL after creates, patches, deletes and renames', () => {
  let addresses: ServiceAddresses
  let names: ResourceNames
  let db: Database
  let sql: typeof import('../../src/cli/reference-queries.ts')
  let dispose: (() => Promise<void>) | undefined
  const apps: INestApplication[] = []
  const apis: ApiClient[] = []

  beforeAll(async () => {
    ;({ addresses, names, db, sql, dispose } = await provisionDataset('copies', INVOICES))
    const { startApp } = await import('../../src/bootstrap.ts')
    for (const id of ['copies-a', 'copies-b']) {
      const started = await startApp(addresses, { logger: false, instanceId: id })
      apps.push(started.app)
      apis.push(apiClient(started.url))
    }
  })

  afterAll(async () => {
    for (const app of apps) await app.close()
    await dispose?.()
  })

  async function walk(api: ApiClient, query: string): Promise<InvoicePage['items']> {
    const items: InvoicePage['items'] = []
    let cursor: string | null = null
    do {
      const page: { body: InvoicePage } = await api.get(
        `/invoices?limit=25${query}${cursor ? `&cursor=${cursor}` : ''}`,
      )
      items.push(...page.body.items)
      cursor = page.body.nextCursor
    } while (cursor !== null)
    return items
  }

  it('after 160 mixed writes through two instances: stale copies 0', async () => {
    const rnd = random(21)
    // Warm both instances: every invoice, the lists, the clients.
    for (const api of apis) {
      for (let id = 1; id <= INVOICES; id++) await api.get(`/invoices/${id}`)
      await walk(api, '')
      for (let client = 1; client <= 5; client++) await walk(api, `&clientId=${client}`)
      for (let client = 1; client <= 20; client++) await api.get(`/clients/${client}`)
    }

    let next = 0
    const answers = new Map<number, number>()
    const write = async (i: number) => {
      const api = apis[i % 2] as ApiClient
      const roll = rnd()
      const invoiceId = 1 + Math.floor(rnd() * (INVOICES + 40))
      const day = new Date(Date.UTC(2026, 10, 30) - Math.floor(rnd() * 400) * 86_400_000)
        .toISOString()
        .slice(0, 10)
      const lines = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, n) => ({
        description: ['Tubería de cobre', 'Curso presencial', 'Informe de auditoría'][n] as string,
        quantity: 1 + Math.floor(rnd() * 5),
        unitPriceCents: 100 + Math.floor(rnd() * 90_000),
        taxRateBp: [0, 1000, 2100][n] as number,
      }))
      let status: number
      if (roll < 0.3) {
        status = (
          await api.post('/invoices', {
            clientId: 1 + Math.floor(rnd() * 20),
            issuedAt: day,
            dueAt: day,
            currency: ['EUR', 'USD', 'GBP'][Math.floor(rnd() * 3)],
            lines,
          })
        ).status
      } else if (roll < 0.6) {
        const patch = [
          { status: ['paid', 'overdue', 'cancelled', 'issued'][Math.floor(rnd() * 4)] },
          { lines },
          { issuedAt: day },
          { description: `Revisión ${i}` },
        ][Math.floor(rnd() * 4)]
        status = (await api.patch(`/invoices/${invoiceId}`, patch)).status
      } else if (roll < 0.8) {
        status = (await api.delete(`/invoices/${invoiceId}`)).status
      } else if (roll < 0.93) {
        status = (
          await api.patch(`/clients/${1 + Math.floor(rnd() * 20)}`, { name: `Cliente renombrado ${i}` })
        ).status
      } else {
        status = (await api.post('/clients', { name: `Cliente nuevo ${i}`, taxId: `N${i}X`, city: 'Cádiz' }))
          .status
      }
      answers.set(status, (answers.get(status) ?? 0) + 1)
    }
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < WRITES) await write(next++)
      }),
    )
    // Writes to ids deleted before are 404s; nothing else but successes.
    expect([...answers.keys()].every((status) => [200, 201, 404].includes(status))).toBe(true)
    expect(answers.get(200) ?? 0).toBeGreaterThan(60)

    const outbox = async () => {
      const [row] = (await db.prisma.$queryRawUnsafe(
        `SELECT COUNT(*) AS n FROM \`${names.outboxTable}\``,
      )) as Array<{
        n: bigint
      }>
      return Number(row?.n ?? 0)
    }
    expect(await until(outbox, (n) => n === 0, 120_000)).toBe(0)

    // Reads through both instances.
    const maxId = (await db.prisma.invoice.aggregate({ _max: { id: true } }))._max.id ?? 0
    let staleReads = 0
    for (const api of apis) {
      for (let id = 1; id <= maxId; id++) {
        const truth = await sql.sqlInvoice(db.prisma, id)
        const served = await api.get<InvoiceView>(`/invoices/${id}`)
        if (truth === null ? served.status !== 404 : !isDeepStrictEqual(served.body, truth)) staleReads++
      }
    }

    // List pages through both instances.
    let staleLists = 0
    for (const api of apis) {
      for (const clientId of [undefined, 1, 2, 3, 4, 5]) {
        const items = await walk(api, clientId === undefined ? '' : `&clientId=${clientId}`)
        const rows = await db.prisma.invoice.findMany({
          where: clientId === undefined ? {} : { clientId },
          orderBy: [{ issuedAt: 'desc' }, { id: 'desc' }],
          include: { client: true },
        })
        const expected = rows.map((row) => ({
          id: row.id,
          version: row.version,
          status: row.status,
          totalCents: row.totalCents,
          issuedAt: row.issuedAt.toISOString().slice(0, 10),
          name: row.client.name,
        }))
        const got = items.map((item) => ({
          id: item.id,
          version: item.version,
          status: item.status,
          totalCents: item.totalCents,
          issuedAt: item.issuedAt,
          name: item.client.name,
        }))
        if (!isDeepStrictEqual(got, expected)) staleLists++
      }
    }

    // The search index: the same ids, each document at its row's version and equal to it.
    const { toInvoiceDocument } = await import('../../src/invoices/invoice-index.ts')
    const search = createSearchClient({ node: addresses.searchUrl })
    const raw = await search.raw()
    await raw.indices.refresh({ index: names.index })
    const hits = await raw.search<Record<string, unknown>>({ index: names.index, size: 1_000, version: true })
    await search.close()
    const documents = new Map(hits.hits.hits.map((hit) => [Number(hit._id), hit]))
    const rows = await db.prisma.invoice.findMany({ select: { id: true } })
    let missingDocs = 0
    let staleDocs = 0
    for (const { id } of rows) {
      const doc = documents.get(id)
      const truth = await sql.sqlInvoice(db.prisma, id)
      if (doc === undefined || truth === null) missingDocs++
      else if (doc._version !== truth.version || !isDeepStrictEqual(doc._source, toInvoiceDocument(truth)))
        staleDocs++
    }
    const extraDocs = [...documents.keys()].filter((id) => !rows.some((row) => row.id === id)).length

    // The dashboard and the report.
    const answers2 = await until(
      async () => ({
        stream: (await (apis[1] as ApiClient).get<DashboardAnswer>('/dashboard')).body,
        db: (await (apis[0] as ApiClient).get<DashboardAnswer>('/dashboard?source=db')).body,
      }),
      (pair) => isDeepStrictEqual(pair.stream.figures, pair.db.figures),
      90_000,
    )
    const dashboardDiffers = isDeepStrictEqual(answers2.stream.figures, await sql.sqlDashboard(db.prisma))
      ? 0
      : 1
    const summaryDiffers = isDeepStrictEqual(answers2.stream.summary, answers2.db.summary) ? 0 : 1
    const year = 2026
    const reportDiffers = isDeepStrictEqual(
      (await (apis[0] as ApiClient).get(`/reports/monthly?year=${year}`)).body,
      (await (apis[1] as ApiClient).get(`/reports/monthly?year=${year}&source=db`)).body,
    )
      ? 0
      : 1

    const counts = {
      staleReads,
      staleLists,
      missingDocs,
      staleDocs,
      extraDocs,
      dashboardDiffers,
      summaryDiffers,
      reportDiffers,
    }
    console.log(
      `[copies] ${WRITES} writes (${[...answers].map(([s, n]) => `${s}: ${n}`).join(', ')}), ${rows.length} invoices after: ${JSON.stringify(counts)}`,
    )
    expect(counts).toEqual({
      staleReads: 0,
      staleLists: 0,
      missingDocs: 0,
      staleDocs: 0,
      extraDocs: 0,
      dashboardDiffers: 0,
      summaryDiffers: 0,
      reportDiffers: 0,
    })
  }, 480_000)
})
