/**
 * GET /dashboard, GET /dashboard/stream and GET /reports/monthly?year= on the real services (300
 * seeded invoices): the aggregator's figures, summary and report equal SQL's recomputation
 * (`?source=db`) after the seed and after every kind of write: invoices created today for a new
 * client, status changes, a re-dating into this month, deletions (the only invoice of a client
 * this month included: one distinct client fewer), a rename of a top client (its name in the
 * summary and the report). Independent Prisma counts check today, this month and the top client.
 */
import { isDeepStrictEqual } from 'node:util'
import type { INestApplication } from '@nestjs/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClientView } from '../../src/clients/client.ts'
import type { DashboardAnswer } from '../../src/dashboard/dashboard.service.ts'
import type { Database } from '../../src/database/connection.ts'
import type { InvoiceView } from '../../src/invoices/invoice.ts'
import type { MonthlyReport } from '../../src/reports/monthly-report.ts'
import { type ApiClient, apiClient, until } from '../helpers/api-client.ts'
import { provisionDataset } from '../helpers/dataset.ts'

const INVOICES = 300
const today = () => new Date().toISOString().slice(0, 10)

describe('dashboard and reports on the real services', () => {
  let app: INestApplication | undefined
  let api: ApiClient
  let url: string
  let db: Database
  let dispose: (() => Promise<void>) | undefined

  beforeAll(async () => {
    let addresses: import('../../src/config.ts').ServiceAddresses
    ;({ addresses, db, dispose } = await provisionDataset('dashboard', INVOICES))
    const { startApp } = await import('../../src/bootstrap.ts')
    const started = await startApp(addresses, { logger: false })
    app = started.app
    url = started.url
    api = apiClient(url)
  })

  afterAll(async () => {
    await app?.close()
    await dispose?.()
  })

  /** The stream's answer once its figures equal SQL's; both answers. */
  async function converged(): Promise<{ stream: DashboardAnswer; db: DashboardAnswer }> {
    let pair = {
      stream: undefined as unknown as DashboardAnswer,
      db: undefined as unknown as DashboardAnswer,
    }
    await until(
      async () => {
        pair = {
          stream: (await api.get<DashboardAnswer>('/dashboard')).body,
          db: (await api.get<DashboardAnswer>('/dashboard?source=db')).body,
        }
        return pair
      },
      ({ stream, db }) => isDeepStrictEqual(stream.figures, db.figures),
      90_000,
    )
    expect(pair.stream.source).toBe('stream')
    expect(pair.db.source).toBe('db')
    expect(pair.stream.figures).toEqual(pair.db.figures)
    expect(pair.stream.summary).toEqual(pair.db.summary)
    return pair
  }

  async function reportsAgree(year: number): Promise<MonthlyReport> {
    const db = (await api.get<MonthlyReport>(`/reports/monthly?year=${year}&source=db`)).body
    const stream = (await api.get<MonthlyReport>(`/reports/monthly?year=${year}`)).body
    expect(stream).toEqual(db)
    for (const month of stream.months) {
      expect(month.averageTicketCents).toBe(Math.round(month.totalCents / month.invoices))
      expect(month.invoices).toBe(Object.values(month.byStatus).reduce((n, s) => n + s.invoices, 0))
    }
    return stream
  }

  /** Independent counts: today's invoices, this month's distinct clients, the top client. */
  async function prismaTruth() {
    const day = new Date(`${today()}T00:00:00Z`)
    const monthStart = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), 1))
    const todays = await db.prisma.invoice.findMany({
      where: { issuedAt: day },
      select: { totalCents: true },
    })
    const monthEnd = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth() + 1, 1))
    const monthClients = await db.prisma.invoice.findMany({
      where: { issuedAt: { gte: monthStart, lt: monthEnd } },
      distinct: ['clientId'],
      select: { clientId: true },
    })
    const sums = await db.prisma.invoice.groupBy({ by: ['clientId'], _sum: { totalCents: true } })
    const best = sums.sort((a, b) => (b._sum.totalCents ?? 0) - (a._sum.totalCents ?? 0))[0]
    return {
      today: { invoices: todays.length, totalCents: todays.reduce((n, row) => n + row.totalCents, 0) },
      clients: monthClients.filter((row) => row.clientId !== undefined).length,
      top: best?.clientId,
    }
  }

  it('equals SQL after the seed: figures, summary, report; refuses bad parameters', async () => {
    const { stream } = await converged()
    expect(stream.figures.invoices).toBe(INVOICES)
    expect(stream.summary.last30Days).toHaveLength(30)
    expect(stream.summary.last30Days.at(-1)?.date).toBe(today())
    expect(stream.summary.topClients).toHaveLength(10)
    expect(stream.summary.topClients.every((client) => typeof client.name === 'string')).toBe(true)
    const report = await reportsAgree(2026)
    expect(report.months.length).toBeGreaterThan(10)
    expect(report.months[0]?.topClients.length).toBeGreaterThan(0)
    for (const [path, parameter] of [
      ['/dashboard?source=redis', 'source'],
      ['/dashboard?year=2026', 'year'],
      ['/reports/monthly?year=10000', 'year'],
      ['/reports/monthly?year=2026&from=2026-01', 'from'],
      ['/reports/monthly?source=db', 'source'],
      ['/reports/monthly?year=2026&source=x', 'source'],
    ] as const) {
      expect(await api.get(path), path).toMatchObject({ status: 400, body: { parameter } })
    }
  }, 120_000)

  it('follows creations, status changes, re-datings, deletions and renames exactly', async () => {
    const newcomer = await api.post<ClientView>('/clients', {
      name: 'Recién Llegada S.L.',
      taxId: 'B55500011',
      city: 'Jaén',
    })
    const invoice = (clientId: number, issuedAt: string, cents: number, currency = 'EUR') =>
      api.post<InvoiceView>('/invoices', {
        clientId,
        issuedAt,
        dueAt: issuedAt,
        currency,
        status: 'issued',
        lines: [
          {
            description: 'Servicio de limpieza semanal',
            quantity: 1,
            unitPriceCents: cents,
            taxRateBp: 2100,
          },
        ],
      })
    const created = [
      await invoice(newcomer.body.id, today(), 80_000_000),
      await invoice(3, today(), 12_345, 'USD'),
      await invoice(4, today(), 99_999, 'GBP'),
    ]
    expect(created.map((answer) => answer.status)).toEqual([201, 201, 201])
    let { stream } = await converged()
    const before = await prismaTruth()
    expect(stream.summary.today).toEqual(before.today)
    expect(stream.summary.thisMonth.clients).toBe(before.clients)
    expect(stream.summary.topClients[0]).toMatchObject({
      clientId: newcomer.body.id,
      name: 'Recién Llegada S.L.',
    })
    expect(Number(before.top)).toBe(newcomer.body.id)

    // Status changes, a seeded invoice moved into this month, one deleted.
    await api.patch('/invoices/10', { status: 'cancelled' })
    await api.patch('/invoices/11', { status: 'paid', issuedAt: today() })
    await api.delete('/invoices/12')
    ;({ stream } = await converged())
    expect(stream.summary.thisMonth.invoices).toBe(4)

    // The newcomer's only invoice this month deleted: one distinct client fewer, out of the top.
    const clientsBefore = stream.summary.thisMonth.clients
    await api.delete(`/invoices/${created[0]?.body.id}`)
    ;({ stream } = await converged())
    expect(stream.summary.thisMonth.clients).toBe(clientsBefore - 1)
    expect(stream.summary.topClients.some((client) => client.clientId === newcomer.body.id)).toBe(false)
    expect(stream.summary.thisMonth.clients).toBe((await prismaTruth()).clients)

    // A rename of the top client: the summary and the report name it anew.
    const top = stream.summary.topClients[0] as { clientId: number }
    expect(
      (await api.patch(`/clients/${top.clientId}`, { name: 'Cliente Principal Renombrado S.A.' })).status,
    ).toBe(200)
    ;({ stream } = await converged())
    expect(stream.summary.topClients[0]).toMatchObject({
      clientId: top.clientId,
      name: 'Cliente Principal Renombrado S.A.',
    })
    const report = await reportsAgree(new Date().getUTCFullYear())
    const december = report.months.filter((month) => month.month === today().slice(0, 7))
    expect(december.map((month) => month.currency).sort()).toEqual(['EUR', 'GBP', 'USD'])
    expect(
      report.months.some((month) =>
        month.topClients.some((c) => c.name === 'Cliente Principal Renombrado S.A.'),
      ),
    ).toBe(true)
  }, 240_000)

  it('pushes the figures and their summary over SSE', async () => {
    const { stream } = await converged()
    const controller = new AbortController()
    const response = await fetch(`${url}/dashboard/stream`, { signal: controller.signal })
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    const figuresEvent = () =>
      text
        .split('\n\n')
        .slice(0, -1)
        .map((block) => block.split('\n').find((line) => line.startsWith('data:')))
        .map((line) => (line === undefined ? undefined : JSON.parse(line.slice(5))))
        .find((data) => data?.figures !== undefined)
    while (figuresEvent() === undefined) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
    controller.abort()
    const event = figuresEvent()
    expect(event.figures).toEqual(stream.figures)
    expect(event.summary).toEqual(stream.summary)
  }, 60_000)
})
