/**
 * GET /invoices on the real services (300 seeded invoices): pages equal SQL's for every filter,
 * through their cursors; they are served from the cache (no SQL read on a hit, counted on the
 * repository); a write drops exactly the pages whose content it changes (a page of another day
 * range or another client stays cached, counted by SQL reads: 0) and the reloaded pages equal
 * SQL; and paging through the whole list while another client creates, patches and deletes
 * invoices neither repeats nor skips an invoice that stayed in place.
 */
import type { INestApplication } from '@nestjs/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../src/database/connection.ts'
import type { InvoiceView } from '../../src/invoices/invoice.ts'
import type { InvoiceListRepository, InvoicePage, ListFilters } from '../../src/invoices/invoice-list.ts'
import { type ApiClient, apiClient } from '../helpers/api-client.ts'
import { provisionDataset } from '../helpers/dataset.ts'

const INVOICES = 300

describe('invoice lists on the real services', () => {
  let app: INestApplication | undefined
  let api: ApiClient
  let db: Database
  let dispose: (() => Promise<void>) | undefined
  let lists: InvoiceListRepository
  let reads = 0

  beforeAll(async () => {
    let addresses: import('../../src/config.ts').ServiceAddresses
    ;({ addresses, db, dispose } = await provisionDataset('lists', INVOICES))
    const { startApp } = await import('../../src/bootstrap.ts')
    const { InvoiceListRepository } = await import('../../src/invoices/invoice-list.ts')
    const started = await startApp(addresses, { logger: false })
    app = started.app
    api = apiClient(started.url)
    // Count the SQL reads of list pages: a cache hit makes none, a miss two (probe and load).
    lists = app.get(InvoiceListRepository)
    const read = lists.read.bind(lists)
    lists.read = (...args) => {
      reads++
      return read(...args)
    }
  })

  afterAll(async () => {
    await app?.close()
    await dispose?.()
  })

  const query = (filters: ListFilters, limit: number, cursor?: string | null) => {
    const params = new URLSearchParams({ limit: String(limit) })
    for (const [key, value] of Object.entries(filters))
      if (value !== undefined) params.set(key, String(value))
    if (cursor) params.set('cursor', cursor)
    return `/invoices?${params}`
  }

  async function page(filters: ListFilters, limit: number, cursor?: string | null): Promise<InvoicePage> {
    const answer = await api.get<InvoicePage>(query(filters, limit, cursor))
    expect(answer.status).toBe(200)
    return answer.body
  }

  /** Every id of the list, through the cursors. */
  async function walk(filters: ListFilters, limit: number): Promise<number[]> {
    const ids: number[] = []
    let cursor: string | null = null
    do {
      const current: InvoicePage = await page(filters, limit, cursor)
      ids.push(...current.items.map((item) => item.id))
      cursor = current.nextCursor
    } while (cursor !== null)
    return ids
  }

  async function sqlIds(filters: ListFilters): Promise<number[]> {
    const day = (d: string) => new Date(`${d}T00:00:00Z`)
    const rows = await db.prisma.invoice.findMany({
      where: {
        ...(filters.clientId === undefined ? {} : { clientId: filters.clientId }),
        ...(filters.status === undefined ? {} : { status: filters.status }),
        issuedAt: {
          ...(filters.from === undefined ? {} : { gte: day(filters.from) }),
          ...(filters.to === undefined ? {} : { lte: day(filters.to) }),
        },
      },
      orderBy: [{ issuedAt: 'desc' }, { id: 'desc' }],
      select: { id: true },
    })
    return rows.map((row) => row.id)
  }

  it('pages equal SQL for every filter, through their cursors, and refuse bad input', async () => {
    for (const filters of [
      {},
      { status: 'paid' },
      { clientId: 2 },
      { clientId: 2, status: 'paid' },
      { from: '2025-09-01', to: '2026-02-28' },
      { status: 'issued', from: '2026-01-01' },
    ] satisfies ListFilters[]) {
      expect(await walk(filters, 17), JSON.stringify(filters)).toEqual(await sqlIds(filters))
    }
    const first = await page({}, 5)
    expect(first.items[0]).toEqual({
      ...first.items[0],
      client: { id: expect.any(Number), name: expect.any(String) },
    })
    for (const [path, parameter] of [
      [query({}, 0), 'limit'],
      [query({ status: 'lost' } as ListFilters, 5), 'status'],
      [query({ from: '2026-02-01', to: '2026-01-01' }, 5), 'from'],
      [query({ status: 'paid' }, 5, first.nextCursor), 'cursor'],
      [query({}, 5, 'bm90LWEtY3Vyc29y'), 'cursor'],
      ['/invoices?page=2', 'page'],
    ] as const) {
      expect(await api.get(path), path).toMatchObject({ status: 400, body: { parameter } })
    }
  })

  it('serves pages from the cache and drops exactly the pages a write changes', async () => {
    // Three pages: the newest, one deep in the list, and one client's paid invoices.
    const newest = await page({}, 10)
    let deep = newest
    let deepCursor = ''
    for (let i = 0; i < 8; i++) {
      deepCursor = deep.nextCursor as string
      deep = await page({}, 10, deepCursor)
    }
    const other = 1
    const clientPage = await page({ clientId: other, status: 'paid' }, 10)
    reads = 0
    expect(await page({}, 10)).toEqual(newest)
    expect(await page({}, 10, deepCursor)).toEqual(deep)
    expect(await page({ clientId: other, status: 'paid' }, 10)).toEqual(clientPage)
    expect(reads).toBe(0)

    // A status change of an invoice in the middle of the deep page, of another client.
    const target = deep.items.find((item) => item.client.id !== other) as InvoicePage['items'][number]
    const status = target.status === 'cancelled' ? 'draft' : 'cancelled'
    expect((await api.patch(`/invoices/${target.id}`, { status })).status).toBe(200)
    reads = 0
    expect(await page({}, 10)).toEqual(newest)
    expect(await page({ clientId: other, status: 'paid' }, 10)).toEqual(clientPage)
    expect(reads).toBe(0)
    const reloaded = await page({}, 10, deepCursor)
    expect(reads).toBe(2)
    expect(reloaded.items.find((item) => item.id === target.id)?.status).toBe(status)
    expect(reloaded).toEqual((await lists.read({}, walkPosition(deepCursor), 10)).page)

    // A new invoice issued today: the newest page changes, the deep one does not.
    const created = await api.post<InvoiceView>('/invoices', {
      clientId: 2,
      issuedAt: new Date().toISOString().slice(0, 10),
      dueAt: '2099-12-31',
      currency: 'EUR',
      lines: [{ description: 'Visita técnica', quantity: 1, unitPriceCents: 7_500, taxRateBp: 2100 }],
    })
    expect(created.status).toBe(201)
    reads = 0
    expect(await page({}, 10, deepCursor)).toEqual(reloaded)
    expect(await page({ clientId: other, status: 'paid' }, 10)).toEqual(clientPage)
    expect(reads).toBe(0)
    expect((await page({}, 10)).items[0]?.id).toBe(created.body.id)

    // A deletion in the client's page: gone from it, the deep page untouched.
    const removed = clientPage.items[0] as InvoicePage['items'][number]
    expect((await api.delete(`/invoices/${removed.id}`)).status).toBe(200)
    reads = 0
    await page({}, 10, deepCursor)
    // The deep page covers the days from its last item's to its cursor's.
    const inDeep =
      removed.issuedAt >= (deep.items.at(-1)?.issuedAt as string) &&
      removed.issuedAt <= walkPosition(deepCursor).issuedAt
    expect(reads).toBe(inDeep ? 2 : 0)
    const after = await page({ clientId: other, status: 'paid' }, 10)
    expect(after.items.some((item) => item.id === removed.id)).toBe(false)
    expect(after.items.map((item) => item.id)).toEqual(
      (await sqlIds({ clientId: other, status: 'paid' })).slice(0, 10),
    )
  })

  function walkPosition(cursor: string) {
    const [, , [issuedAt, id]] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [
      string,
      string,
      [string, number],
    ]
    return { issuedAt, id }
  }

  it('never repeats nor skips an invoice that stays in place while others are written', async () => {
    const stayed = new Set(await sqlIds({}))
    const touched = new Set<number>()
    let writing = true
    const writer = (async () => {
      let n = 0
      while (writing) {
        n++
        const ids = [...stayed]
        const pick = ids[(n * 7919) % ids.length] as number
        if (n % 3 === 0) {
          await api.delete(`/invoices/${pick}`)
          stayed.delete(pick)
          touched.add(pick)
        } else if (n % 3 === 1) {
          // A status change moves nothing in this list's order.
          await api.patch(`/invoices/${pick}`, { status: n % 2 === 0 ? 'paid' : 'overdue' })
        } else {
          const month = String(1 + (n % 12)).padStart(2, '0')
          const created = await api.post<InvoiceView>('/invoices', {
            clientId: 1 + (n % 5),
            issuedAt: `2026-${month}-1${n % 10}`,
            dueAt: '2027-01-31',
            currency: 'USD',
            lines: [{ description: 'Portes nacionales', quantity: 2, unitPriceCents: 3_000, taxRateBp: 0 }],
          })
          touched.add(created.body.id)
        }
      }
      return n
    })()
    const seen: Array<{ id: number; key: string }> = []
    let cursor: string | null = null
    do {
      const current: InvoicePage = await page({}, 7, cursor)
      for (const item of current.items)
        seen.push({ id: item.id, key: `${item.issuedAt}.${String(item.id).padStart(9, '0')}` })
      cursor = current.nextCursor
      await new Promise((resolve) => setTimeout(resolve, 20))
    } while (cursor !== null)
    writing = false
    const writes = await writer
    const ids = seen.map((entry) => entry.id)
    expect(writes).toBeGreaterThan(10)
    expect(new Set(ids).size).toBe(ids.length)
    // Strictly descending (issuedAt, id): no page went back.
    expect(seen.every((entry, i) => i === 0 || entry.key < (seen[i - 1] as (typeof seen)[number]).key)).toBe(
      true,
    )
    const missing = [...stayed].filter((id) => !touched.has(id) && !ids.includes(id))
    expect(missing).toEqual([])
    console.log(
      `[lists] paged ${ids.length} invoices while ${writes} writes ran: repeated 0, skipped ${missing.length}`,
    )
  }, 120_000)
})
