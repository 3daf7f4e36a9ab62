/**
 * The writes of the API on the real services (a database, namespaces, topic and index of the
 * test's own, 200 seeded invoices): clients created, read, paged and renamed; invoices created,
 * patched (lines as a whole, optimistic locking) and deleted; every refusal with its status and
 * the field it names; and after the writes, every copy equal to SQL: the cached reads, the list
 * pages and the search documents (a rename included).
 */
import type { INestApplication } from '@nestjs/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClientView } from '../../src/clients/client.ts'
import type { Database } from '../../src/database/connection.ts'
import type { InvoiceView } from '../../src/invoices/invoice.ts'
import type { InvoicePage } from '../../src/invoices/invoice-list.ts'
import type { SearchAnswer } from '../../src/search/search.controller.ts'
import { type ApiClient, apiClient, until } from '../helpers/api-client.ts'
import { provisionDataset } from '../helpers/dataset.ts'

const INVOICES = 200

type Refusal = { statusCode: number; message: string; parameter?: string }

describe('API writes on the real services', () => {
  let app: INestApplication | undefined
  let api: ApiClient
  let db: Database
  let sql: typeof import('../../src/cli/reference-queries.ts')
  let dispose: (() => Promise<void>) | undefined

  beforeAll(async () => {
    let addresses: import('../../src/config.ts').ServiceAddresses
    ;({ addresses, db, sql, dispose } = await provisionDataset('writes', INVOICES))
    const { startApp } = await import('../../src/bootstrap.ts')
    const started = await startApp(addresses, { logger: false })
    app = started.app
    api = apiClient(started.url)
  })

  afterAll(async () => {
    await app?.close()
    await dispose?.()
  })

  const line = {
    description: 'Revisión de equipos de aire',
    quantity: 3,
    unitPriceCents: 12_345,
    taxRateBp: 2100,
  }

  it('creates, reads and pages clients; refuses bad input and a duplicate taxId', async () => {
    const created = await api.post<ClientView>('/clients', {
      name: 'Climatizaciones Ñandú S.L.',
      taxId: ' b99887766 ',
      city: 'Logroño',
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ name: 'Climatizaciones Ñandú S.L.', taxId: 'B99887766', version: 1 })
    expect((await api.get(`/clients/${created.body.id}`)).body).toEqual(created.body)

    const duplicate = await api.post<Refusal>('/clients', { name: 'Otra', taxId: 'B99887766', city: 'León' })
    expect(duplicate.status).toBe(409)
    for (const [body, parameter] of [
      [{ name: 'x', city: 'y' }, 'taxId'],
      [{ name: 'x', taxId: 'B1', city: 'y', extra: 1 }, 'extra'],
      [{ name: 'x', taxId: 'B 1', city: 'y' }, 'taxId'],
      [{ name: 'a'.repeat(161), taxId: 'B1', city: 'y' }, 'name'],
      [{ name: 1, taxId: 'B1', city: 'y' }, 'name'],
      [[], 'body'],
    ] as const) {
      const refused = await api.post<Refusal>('/clients', body)
      expect(refused.status, JSON.stringify(body)).toBe(400)
      expect(refused.body.parameter).toBe(parameter)
    }
    expect((await api.get('/clients/999999')).status).toBe(404)
    expect((await api.get('/clients/0')).status).toBe(400)

    // Every client once, in id order, through the cursors.
    const seen: number[] = []
    let cursor: string | null = ''
    while (cursor !== null) {
      const page: { status: number; body: { items: ClientView[]; nextCursor: string | null } } =
        await api.get(`/clients?limit=7${cursor ? `&cursor=${cursor}` : ''}`)
      expect(page.status).toBe(200)
      seen.push(...page.body.items.map((client) => client.id))
      cursor = page.body.nextCursor
    }
    const truth = await db.prisma.client.findMany({ select: { id: true }, orderBy: { id: 'asc' } })
    expect(seen).toEqual(truth.map((row) => row.id))
    const first = await api.get<{ nextCursor: string }>('/clients?limit=2')
    const edited = `${first.body.nextCursor.slice(0, -2)}AA`
    expect((await api.get<Refusal>(`/clients?cursor=${edited}`)).body.parameter).toBe('cursor')
    expect((await api.get<Refusal>('/clients?limit=101')).body.parameter).toBe('limit')
  })

  it('creates an invoice: the server numbers it and computes net, tax and total', async () => {
    const lines = [
      line,
      { description: 'Recarga de gas refrigerante', quantity: 1, unitPriceCents: 9_999, taxRateBp: 1000 },
    ]
    const created = await api.post<InvoiceView>('/invoices', {
      clientId: 3,
      issuedAt: '2026-12-01',
      dueAt: '2026-12-31',
      currency: 'EUR',
      lines,
    })
    expect(created.status).toBe(201)
    const net = 3 * 12_345 + 9_999
    const tax = Math.round((3 * 12_345 * 2100) / 10_000) + Math.round((9_999 * 1000) / 10_000)
    expect(created.body).toMatchObject({
      number: `FAC-2026-${String(created.body.id).padStart(6, '0')}`,
      status: 'draft',
      description: line.description,
      netCents: net,
      taxCents: tax,
      totalCents: net + tax,
      version: 1,
      client: { id: 3 },
    })
    expect(created.body.lines.map((l) => l.position)).toEqual([1, 2])
    expect((await api.get(`/invoices/${created.body.id}`)).body).toEqual(
      await sql.sqlInvoice(db.prisma, created.body.id),
    )

    const base = { clientId: 3, issuedAt: '2026-12-01', dueAt: '2026-12-31', currency: 'EUR', lines: [line] }
    expect((await api.post('/invoices', { ...base, clientId: 999_999 })).status).toBe(404)
    for (const [body, parameter] of [
      [{ ...base, lines: [] }, 'lines'],
      [{ ...base, currency: 'XXX' }, 'currency'],
      [{ ...base, issuedAt: '2026-02-30' }, 'issuedAt'],
      [{ ...base, lines: [{ ...line, quantity: 0 }] }, 'lines[0].quantity'],
      [{ ...base, lines: [line, { ...line, unitPriceCents: 1.5 }] }, 'lines[1].unitPriceCents'],
      [{ ...base, lines: [{ ...line, taxRateBp: '2100' }] }, 'lines[0].taxRateBp'],
      [{ ...base, lines: [{ ...line, discount: 1 }] }, 'lines[0].discount'],
      [{ ...base, lines: [{ quantity: 1, unitPriceCents: 1, taxRateBp: 0 }] }, 'lines[0].description'],
      [{ ...base, lines: [{ ...line, quantity: 1_000_000, unitPriceCents: 100_000_000 }] }, 'lines'],
      [{ ...base, number: 'FAC-1' }, 'number'],
      [{ ...base, clientId: '3' }, 'clientId'],
    ] as const) {
      const refused = await api.post<Refusal>('/invoices', body)
      expect(refused.status, JSON.stringify(body).slice(0, 120)).toBe(400)
      expect(refused.body.parameter).toBe(parameter)
    }
  })

  it('patches an invoice (lines as a whole, dates), with optimistic locking', async () => {
    const before = (await api.get<InvoiceView>('/invoices/12')).body
    const stale = await api.patch<Refusal>('/invoices/12', { status: 'paid', version: before.version + 5 })
    expect(stale.status).toBe(409)
    const lines = [{ ...line, quantity: 10 }]
    const patched = await api.patch<InvoiceView>('/invoices/12', {
      lines,
      issuedAt: '2026-11-30',
      version: before.version,
    })
    expect(patched.status).toBe(200)
    // Every instance (this one: the only subscriber of its bus) dropped its copy before the answer.
    expect(patched.headers.get('cache-coherence')).toMatch(/^confirmed; receivers=[1-9]\d*$/)
    expect(patched.body).toMatchObject({
      version: before.version + 1,
      issuedAt: '2026-11-30',
      netCents: 123_450,
      taxCents: 25_925,
      totalCents: 149_375,
      number: before.number,
    })
    expect(patched.body.lines).toEqual([{ position: 1, ...lines[0] }])
    expect((await api.get('/invoices/12')).body).toEqual(await sql.sqlInvoice(db.prisma, 12))
    // The same version again: someone else wrote in between.
    expect((await api.patch('/invoices/12', { status: 'paid', version: before.version })).status).toBe(409)
    expect((await api.patch('/invoices/999999', { status: 'paid' })).status).toBe(404)
    expect((await api.patch<Refusal>('/invoices/12', { version: 3 })).body.parameter).toBe('body')
    expect((await api.patch<Refusal>('/invoices/12', { lines: 'x' })).body.parameter).toBe('lines')
  })

  it('deletes an invoice: gone from reads, lists and search; a second delete is a 404', async () => {
    const target = (await api.get<InvoiceView>('/invoices/15')).body
    expect((await api.delete(`/invoices/15?version=${target.version + 1}`)).status).toBe(409)
    const deleted = await api.delete<{ id: number; deleted: boolean; version: number }>(
      `/invoices/15?version=${target.version}`,
    )
    expect({ status: deleted.status, body: deleted.body }).toEqual({
      status: 200,
      body: { id: 15, deleted: true, version: target.version + 1 },
    })
    expect(deleted.headers.get('cache-coherence')).toMatch(/^confirmed; /)
    expect((await api.get('/invoices/15')).status).toBe(404)
    expect((await api.delete('/invoices/15')).status).toBe(404)
    expect((await api.delete('/invoices/abc')).status).toBe(400)
    const listed = await api.get<InvoicePage>(`/invoices?clientId=${target.client.id}&limit=100`)
    expect(listed.body.items.some((item) => item.id === 15)).toBe(false)
    const found = await until(
      async () => (await api.get<SearchAnswer>(`/search?q=${encodeURIComponent(target.number)}`)).body,
      (answer) => !answer.hits.some((hit) => hit.id === 15),
      60_000,
    )
    expect(found.hits.some((hit) => hit.id === 15)).toBe(false)
    expect(await db.prisma.invoiceLine.count({ where: { invoiceId: 15 } })).toBe(0)
  }, 90_000)

  it('renames a client: every cached invoice, list page and search document shows the new name', async () => {
    const clientId = 5
    const invoiceIds = (
      await db.prisma.invoice.findMany({ where: { clientId }, select: { id: true }, orderBy: { id: 'asc' } })
    ).map((row) => row.id)
    expect(invoiceIds.length).toBeGreaterThan(2)
    // Warm every copy: the invoices, a list page, the client.
    for (const id of invoiceIds) await api.get(`/invoices/${id}`)
    await api.get(`/invoices?clientId=${clientId}`)
    await api.get('/invoices')
    const client = (await api.get<ClientView>(`/clients/${clientId}`)).body

    expect((await api.patch('/clients/5', { name: 'x', version: client.version + 1 })).status).toBe(409)
    expect(
      (await api.patch('/clients/5', { taxId: (await api.get<ClientView>('/clients/6')).body.taxId })).status,
    ).toBe(409)
    expect((await api.patch('/clients/999999', { name: 'x' })).status).toBe(404)
    const renamed = await api.patch<ClientView>('/clients/5', {
      name: 'Zumbadores Quórum S.A.',
      version: client.version,
    })
    expect(renamed.status).toBe(200)
    expect(renamed.body).toMatchObject({ name: 'Zumbadores Quórum S.A.', version: client.version + 1 })
    expect((await api.get('/clients/5')).body).toEqual(renamed.body)

    let stale = 0
    for (const id of invoiceIds) {
      const served = (await api.get<InvoiceView>(`/invoices/${id}`)).body
      if (served.client.name !== 'Zumbadores Quórum S.A.') stale++
      expect(served).toEqual(await sql.sqlInvoice(db.prisma, id))
    }
    expect(stale).toBe(0)
    const page = (await api.get<InvoicePage>(`/invoices?clientId=${clientId}&limit=100`)).body
    expect(page.items.map((item) => item.id).sort((a, b) => a - b)).toEqual(invoiceIds)
    expect(page.items.every((item) => item.client.name === 'Zumbadores Quórum S.A.')).toBe(true)
    const unfiltered = (await api.get<InvoicePage>('/invoices?limit=100')).body
    expect(
      unfiltered.items
        .filter((item) => item.client.id === clientId)
        .every((item) => item.client.name === 'Zumbadores Quórum S.A.'),
    ).toBe(true)

    const found = await until(
      async () => (await api.get<SearchAnswer>('/search?q=zumbadores%20quorum&limit=100')).body,
      (answer) => answer.total === invoiceIds.length,
      60_000,
    )
    expect(found.hits.map((hit) => hit.id).sort((a, b) => a - b)).toEqual(invoiceIds)
    expect(found.hits.every((hit) => hit.clientName === 'Zumbadores Quórum S.A.')).toBe(true)
  }, 90_000)
})
