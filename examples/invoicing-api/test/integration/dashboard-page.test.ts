/**
 * The live dashboard page in a real browser: Debian's `chromium`, headless, driven by
 * `playwright-core`. The page at `/` must show the SQL truth, follow a PATCH made over HTTP
 * (pushed through `/dashboard/stream`, no reload) to the new SQL truth, fetch nothing from
 * another origin, throw nothing, and come back by itself after the server restarts. A screenshot
 * of each state goes to `test-output/` (gitignored).
 *
 * Nothing is skipped: without the `chromium` binary the test fails saying that scripts/setup.sh
 * installs it.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import type { INestApplication } from '@nestjs/common'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceAddresses } from '../../src/config.ts'
import type { InvoiceView } from '../../src/invoices/invoice.ts'
import { EXAMPLE_ROOT, provisionDataset, type TestDataset } from '../helpers/dataset.ts'

const INVOICES = 300
/**
 * The browser globals the functions run in the page use, as far as they use them (the example
 * compiles without the DOM library; these exist in the page only).
 */
interface PageElement {
  getAttribute(name: string): string | null
  querySelector(selector: string): PageElement | null
  querySelectorAll(selector: string): Iterable<PageElement>
  textContent: string | null
}
declare const document: {
  getElementById(id: string): PageElement | null
  querySelectorAll(selector: string): Iterable<PageElement>
  body: { dataset: Record<string, string | undefined> }
}
declare const window: { loadedOnce?: boolean }

const OUTPUT = join(EXAMPLE_ROOT, 'test-output')

/** The `chromium` binary on PATH, or a failure naming the fix. */
function chromiumPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim()
  } catch {
    throw new Error('chromium is not installed: scripts/setup.sh installs it (apt-get install chromium)')
  }
}

/** What the page shows, read from the raw `data-value` attributes. */
interface Shown {
  connection: string
  invoices: number
  total: number
  byStatus: Record<string, { count: number; total: number }>
  /** The cards of the summary: name -> value. */
  cards: Record<string, number>
  /** Per chart: day -> bar value. */
  charts: Record<string, Record<string, number>>
  /** The top clients table: [client, total] per row. */
  topClients: Array<[string, number]>
}

function shown(page: Page): Promise<Shown> {
  return page.evaluate(() => {
    const value = (node: PageElement | null) => Number(node?.getAttribute('data-value'))
    const byStatus: Record<string, { count: number; total: number }> = {}
    for (const row of document.querySelectorAll('#by-status tbody tr')) {
      byStatus[row.getAttribute('data-status') ?? ''] = {
        count: value(row.querySelector('[data-column=count]')),
        total: value(row.querySelector('[data-column=total]')),
      }
    }
    const cards: Record<string, number> = {}
    for (const output of document.querySelectorAll('#extra-cards output[data-figure]')) {
      cards[output.getAttribute('data-figure') ?? ''] = value(output)
    }
    const charts: Record<string, Record<string, number>> = {}
    for (const svg of document.querySelectorAll('svg[data-chart]')) {
      const bars: Record<string, number> = {}
      for (const bar of svg.querySelectorAll('rect[data-day]'))
        bars[bar.getAttribute('data-day') ?? ''] = value(bar)
      charts[svg.getAttribute('data-chart') ?? ''] = bars
    }
    const topClients: Array<[string, number]> = []
    for (const row of document.querySelectorAll('[data-figure=topClients] tbody tr')) {
      const cells = [...row.querySelectorAll('td')]
      topClients.push([cells[1]?.textContent ?? '', value(cells[2] ?? null)])
    }
    return {
      connection: document.getElementById('connection')?.getAttribute('data-connection') ?? '',
      invoices: value(document.getElementById('figure-invoices')),
      total: value(document.getElementById('figure-total')),
      byStatus,
      cards,
      charts,
      topClients,
    }
  })
}

/** The parts of `GET /dashboard?source=db`'s summary the page shows. */
interface DbSummary {
  invoices: number
  totalCents: number
  byStatus: Record<string, { invoices: number; totalCents: number }>
  today: { invoices: number; totalCents: number }
  thisMonth: { invoices: number; totalCents: number; clients: number }
  last30Days: Array<{ date: string; invoices: number; totalCents: number }>
  topClients: Array<{ clientId: number; name: string | null; totalCents: number }>
}

/** What the page must show for SQL's figures (`?source=db`). */
function expected(summary: DbSummary): Shown {
  const byStatus: Record<string, { count: number; total: number }> = {}
  for (const [status, tally] of Object.entries(summary.byStatus).sort(([a], [b]) => a.localeCompare(b))) {
    byStatus[status] = { count: tally.invoices, total: tally.totalCents }
  }
  const perDay = (key: 'invoices' | 'totalCents') =>
    Object.fromEntries(summary.last30Days.map((day) => [day.date, day[key]]))
  return {
    connection: 'live',
    invoices: summary.invoices,
    total: summary.totalCents,
    byStatus,
    cards: {
      todayInvoices: summary.today.invoices,
      todayTotal: summary.today.totalCents,
      monthInvoices: summary.thisMonth.invoices,
      monthTotal: summary.thisMonth.totalCents,
      monthClients: summary.thisMonth.clients,
    },
    charts: { invoicesPerDay: perDay('invoices'), totalPerDay: perDay('totalCents') },
    topClients: summary.topClients.map((client) => [client.name ?? `#${client.clientId}`, client.totalCents]),
  }
}

/** Poll the page until it shows `want` or `timeoutMs`; the last reading. */
async function until(page: Page, want: Shown, timeoutMs = 30_000): Promise<Shown> {
  const deadline = Date.now() + timeoutMs
  let last = await shown(page)
  while (!isDeepStrictEqual(last, want) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    last = await shown(page)
  }
  return last
}

describe('the live dashboard page in Chromium', () => {
  let dataset: TestDataset | undefined
  let addresses: ServiceAddresses
  let app: INestApplication | undefined
  let url: string
  let browser: Browser | undefined
  let page: Page
  const requests: string[] = []
  const pageErrors: string[] = []
  const consoleErrors: string[] = []

  async function patch(id: number, body: unknown): Promise<InvoiceView> {
    const response = await fetch(`${url}/invoices/${id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    expect(response.status).toBe(200)
    return (await response.json()) as InvoiceView
  }

  async function startOn(port: number) {
    const { startApp } = await import('../../src/bootstrap.ts')
    const started = await startApp(addresses, { logger: false, port })
    app = started.app
    url = started.url
  }

  beforeAll(async () => {
    const executablePath = chromiumPath()
    mkdirSync(OUTPUT, { recursive: true })
    dataset = await provisionDataset('page', INVOICES)
    addresses = dataset.addresses
    await startOn(0)
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } })
    page.on('request', (request) => requests.push(request.url()))
    page.on('pageerror', (error) => pageErrors.push(error.message))
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text())
    })
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await app?.close()
    await dataset?.dispose()
  })

  /**
   * What the page must show: `GET /dashboard?source=db` (the figures recomputed in SQL), itself
   * checked against the reference `GROUP BY` of `cli/reference-queries.ts`.
   */
  async function sqlTruth(): Promise<Shown> {
    const { db, sql } = dataset as TestDataset
    const response = await fetch(`${url}/dashboard?source=db`)
    expect(response.status).toBe(200)
    const { summary } = (await response.json()) as { summary: DbSummary }
    const reference = await sql.sqlDashboard(db.prisma)
    expect(summary.invoices).toBe(reference.invoices)
    expect(Object.fromEntries(Object.entries(summary.byStatus).map(([k, v]) => [k, v.invoices]))).toEqual(
      reference.countByStatus,
    )
    return expected(summary)
  }

  const updates = () => page.evaluate(() => Number(document.body.dataset.updates ?? 0))

  it('shows the SQL figures, then the new SQL truth after a PATCH over HTTP, without a reload', async () => {
    const { db } = dataset as TestDataset
    const response = await page.goto(`${url}/`)
    expect(response?.status()).toBe(200)
    expect(response?.headers()['content-type']).toContain('text/html')
    await page.evaluate(() => {
      window.loadedOnce = true
    })

    const before = await sqlTruth()
    expect(before.invoices).toBe(INVOICES)
    expect(Object.keys(before.charts.invoicesPerDay ?? {})).toHaveLength(30)
    expect(await until(page, before)).toEqual(before)
    const firstUpdates = await updates()
    await page.screenshot({ path: join(OUTPUT, 'dashboard-page.png'), fullPage: true })

    // A status change moves one invoice's count and total from one status to another.
    const target = (await db.prisma.invoice.findFirst({
      where: { status: { not: 'paid' } },
      orderBy: { id: 'asc' },
      select: { id: true, status: true },
    })) as { id: number; status: string }
    await patch(target.id, { status: 'paid' })
    const after = await sqlTruth()
    expect(after.byStatus.paid?.count).toBe((before.byStatus.paid?.count ?? 0) + 1)
    expect(after.byStatus[target.status]?.count ?? 0).toBe((before.byStatus[target.status]?.count ?? 0) - 1)
    expect(await until(page, after)).toEqual(after)
    expect(await updates()).toBeGreaterThan(firstUpdates)
    // Pushed into the open page: it was not reloaded.
    expect(await page.evaluate(() => window.loadedOnce)).toBe(true)
    await page.screenshot({ path: join(OUTPUT, 'dashboard-page-after-patch.png'), fullPage: true })
    expect(statSync(join(OUTPUT, 'dashboard-page-after-patch.png')).size).toBeGreaterThan(10_000)

    // Only this origin; nothing thrown or logged as an error.
    const origin = new URL(url).origin
    expect(requests.filter((address) => new URL(address).origin !== origin)).toEqual([])
    expect(requests.some((address) => address.endsWith('/dashboard/stream'))).toBe(true)
    expect(pageErrors).toEqual([])
    expect(consoleErrors).toEqual([])
  })

  it('says it lost the server, and shows the SQL truth again by itself once the server is back', async () => {
    const { db } = dataset as TestDataset
    const port = Number(new URL(url).port)
    await app?.close()
    app = undefined
    const deadline = Date.now() + 15_000
    while ((await shown(page)).connection !== 'reconnecting' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect((await shown(page)).connection).toBe('reconnecting')
    await page.screenshot({ path: join(OUTPUT, 'dashboard-page-reconnecting.png'), fullPage: true })

    // The server is back on the same address, and an update is made through it.
    await startOn(port)
    const target = (await db.prisma.invoice.findFirst({
      where: { status: { not: 'cancelled' } },
      orderBy: { id: 'desc' },
      select: { id: true },
    })) as { id: number }
    await patch(target.id, { status: 'cancelled' })
    const truth = await sqlTruth()
    expect(await until(page, truth, 45_000)).toEqual(truth)
    expect(await page.evaluate(() => window.loadedOnce)).toBe(true)
    // The browser's failed reconnection attempts while the server was down are network errors of
    // the stream, logged by Chromium itself; the page's own script threw nothing.
    expect(pageErrors).toEqual([])
  }, 90_000)
})
