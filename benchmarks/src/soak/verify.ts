/**
 * After the load: every copy the app keeps is compared with SQL, the truth, as the example's
 * crash-consistency test does, once the outbox has drained (no pending effect, no dead letter).
 *
 * - Search index: every document (fetched by id with `mget`) equals the document of its row
 *   (`toInvoiceDocument(toInvoiceView(row))`, every field) at the row's version (the external
 *   version), and the index holds no other document; `/search` totals for the soak's texts equal
 *   `sqlSearch`'s.
 * - Dashboard: `GET /dashboard` figures equal `sqlDashboard` (the GROUP BY, to the cent), and so
 *   do the figures of the last event an SSE subscriber received during the run.
 * - Cached reads: `GET /invoices/:id` of every invoice equals its row's view (all fields).
 * - Monthly report: each range the load asked for equals the aggregation computed here from the
 *   rows (an oracle independent of the app's SQL).
 *
 * Each mismatch is counted, with the first few ids for the report; a 5xx seen while checking is
 * counted too.
 */
import { isDeepStrictEqual } from 'node:util'
import { createSearchClient } from '@ayala/search'
import type { DashboardFigures, Example, InvoiceView, PrismaLike, ResourceNames } from './example.js'
import { REPORT_RANGES, reportPath } from './load.js'

/** What the checks found. */
export interface Verification {
  invoices: number
  outbox: { pending: number; dead: number; drainMs: number }
  index: { documents: number; stale: number; missing: number; extra: number; examples: string[] }
  searchTotals: Array<{ text: string; served: number; sql: number }>
  dashboard: { equal: boolean; catchUpMs: number; served?: DashboardFigures; sql: DashboardFigures }
  sse: { events: number; equal: boolean | undefined }
  cachedReads: { checked: number; stale: number; examples: string[] }
  reports: { checked: number; differing: number; examples: string[] }
  serverErrors: number
  /** Every mismatch added up: 0 when every copy equals SQL. */
  mismatches: number
}

/** A row as read for the checks: the view, and the report's fields. */
interface Row {
  view: InvoiceView
  issuedAt: Date
  currency: string
  status: string
  totalCents: number
}

async function loadRows(example: Example, prisma: PrismaLike, count: number): Promise<Row[]> {
  const rows: Row[] = []
  const chunk = 2_000
  for (let from = 1; from <= count; from += chunk) {
    const batch = (await prisma.invoice.findMany({
      where: { id: { gte: from, lt: from + chunk } },
      include: example.INVOICE_INCLUDE,
      orderBy: { id: 'asc' },
    })) as unknown as Array<{ issuedAt: Date; currency: string; status: string; totalCents: number }>
    for (const row of batch) {
      rows.push({
        view: example.toInvoiceView(row),
        issuedAt: row.issuedAt,
        currency: row.currency,
        status: row.status,
        totalCents: row.totalCents,
      })
    }
  }
  return rows
}

/** The monthly report of `range` from the rows (month, currency, status; sorted as the SQL). */
function monthlyOracle(rows: readonly Row[], range: { from?: string; to?: string }) {
  const from = range.from ?? '2000-01'
  const to = range.to ?? '2099-12'
  const groups = new Map<
    string,
    { month: string; currency: string; status: string; invoices: number; totalCents: number }
  >()
  for (const row of rows) {
    const month = row.issuedAt.toISOString().slice(0, 7)
    if (month < from || month > to) continue
    const key = `${month}\u0000${row.currency}\u0000${row.status}`
    const group = groups.get(key) ?? {
      month,
      currency: row.currency,
      status: row.status,
      invoices: 0,
      totalCents: 0,
    }
    group.invoices++
    group.totalCents += row.totalCents
    groups.set(key, group)
  }
  return [...groups.values()].sort(
    (a, b) =>
      a.month.localeCompare(b.month) ||
      a.currency.localeCompare(b.currency) ||
      a.status.localeCompare(b.status),
  )
}

async function getJson(url: string, counter: { serverErrors: number }): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) })
  if (response.status >= 500) counter.serverErrors++
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`)
  return response.json()
}

/** Run `work` over `items` with `concurrency` at a time. */
async function eachLimit<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++] as T)
    }),
  )
}

/** Wait for the outbox to drain, then compare every copy with SQL. */
export async function verifyCopies(options: {
  example: Example
  prisma: PrismaLike
  url: string
  names: ResourceNames
  searchUrl: string
  invoices: number
  /** A live view of the SSE subscriber: events received, and the last one with figures. */
  sse: { readonly events: number; readonly last: unknown }
  /** @default 120_000 */
  drainTimeoutMs?: number
}): Promise<Verification> {
  const { example, prisma, url, names } = options
  const counter = { serverErrors: 0 }
  const outboxCount = async (where: string) => {
    const [row] = await prisma.$queryRawUnsafe<Array<{ n: bigint | number }>>(
      `SELECT COUNT(*) AS n FROM \`${names.outboxTable}\` WHERE ${where}`,
    )
    return Number(row?.n ?? 0)
  }
  const drainStarted = Date.now()
  const drainDeadline = drainStarted + (options.drainTimeoutMs ?? 120_000)
  while ((await outboxCount('dead_at IS NULL')) > 0 && Date.now() < drainDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  const outbox = {
    pending: await outboxCount('dead_at IS NULL'),
    dead: await outboxCount('dead_at IS NOT NULL'),
    drainMs: Date.now() - drainStarted,
  }

  const rows = await loadRows(example, prisma, options.invoices)

  // Dashboard: the aggregator applies the relayed events; poll until equal (or 90 s).
  const sql = await example.sqlDashboard(prisma)
  const dashboardStarted = Date.now()
  let served: DashboardFigures | undefined
  do {
    served = ((await getJson(`${url}/dashboard`, counter)) as { figures: DashboardFigures }).figures
    if (isDeepStrictEqual(served, sql)) break
    await new Promise((resolve) => setTimeout(resolve, 250))
  } while (Date.now() - dashboardStarted < 90_000)
  const dashboard = {
    equal: isDeepStrictEqual(served, sql),
    catchUpMs: Date.now() - dashboardStarted,
    served,
    sql,
  }
  // The SSE subscriber (kept open by the caller) may trail the dashboard read by an event.
  const sseFigures = () => (options.sse.last as { figures?: unknown } | undefined)?.figures
  const sseStarted = Date.now()
  while (!isDeepStrictEqual(sseFigures(), sql) && Date.now() - sseStarted < 10_000) {
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const sse = {
    events: options.sse.events,
    equal: sseFigures() === undefined ? undefined : isDeepStrictEqual(sseFigures(), sql),
  }

  // The index, by id: every document equal to its row's, at its version; no extra document.
  const search = createSearchClient({ node: options.searchUrl })
  const index = { documents: 0, stale: 0, missing: 0, extra: 0, examples: [] as string[] }
  try {
    const raw = await search.raw()
    await raw.indices.refresh({ index: names.index })
    index.documents = (await raw.count({ index: names.index })).count
    for (let at = 0; at < rows.length; at += 1_000) {
      const batch = rows.slice(at, at + 1_000)
      const answer = await raw.mget<Record<string, unknown>>({
        index: names.index,
        ids: batch.map((row) => String(row.view.id)),
      })
      answer.docs.forEach((doc, i) => {
        const row = batch[i] as Row
        const found = doc as { found?: boolean; _version?: number; _source?: Record<string, unknown> }
        if (!found.found) {
          index.missing++
          if (index.examples.length < 5) index.examples.push(`${row.view.id}: missing`)
          return
        }
        const expected = JSON.parse(JSON.stringify(example.toInvoiceDocument(row.view)))
        if (found._version !== row.view.version || !isDeepStrictEqual(found._source, expected)) {
          index.stale++
          if (index.examples.length < 5)
            index.examples.push(
              `${row.view.id}: v${found._version} ${found._source?.status} vs v${row.view.version} ${row.status}`,
            )
        }
      })
    }
    index.extra = Math.max(0, index.documents - (rows.length - index.missing))
  } finally {
    await search.close()
  }
  const searchTotals: Verification['searchTotals'] = []
  for (const text of ['climatizacion', 'peritaje', 'peritaje climatizacion']) {
    const answer = (await getJson(`${url}/search?q=${encodeURIComponent(text)}`, counter)) as {
      total: number
    }
    searchTotals.push({ text, served: answer.total, sql: (await example.sqlSearch(prisma, text)).total })
  }

  // Cached reads: every invoice through the app.
  const cachedReads = { checked: 0, stale: 0, examples: [] as string[] }
  await eachLimit(rows, 8, async (row) => {
    const view = (await getJson(`${url}/invoices/${row.view.id}`, counter)) as InvoiceView
    cachedReads.checked++
    if (!isDeepStrictEqual(view, row.view)) {
      cachedReads.stale++
      if (cachedReads.examples.length < 5)
        cachedReads.examples.push(
          `${row.view.id}: v${view.version} ${view.status} vs v${row.view.version} ${row.status}`,
        )
    }
  })

  // Reports: every range the load asked for.
  const reports = { checked: 0, differing: 0, examples: [] as string[] }
  for (const range of REPORT_RANGES) {
    const servedReport = await getJson(`${url}${reportPath(range)}`, counter)
    reports.checked++
    if (!isDeepStrictEqual(servedReport, monthlyOracle(rows, range))) {
      reports.differing++
      reports.examples.push(reportPath(range))
    }
  }

  const mismatches =
    outbox.pending +
    outbox.dead +
    index.stale +
    index.missing +
    index.extra +
    searchTotals.filter((total) => total.served !== total.sql).length +
    (dashboard.equal ? 0 : 1) +
    (sse.equal === false ? 1 : 0) +
    cachedReads.stale +
    reports.differing
  return {
    invoices: rows.length,
    outbox,
    index,
    searchTotals,
    dashboard,
    sse,
    cachedReads,
    reports,
    serverErrors: counter.serverErrors,
    mismatches,
  }
}
