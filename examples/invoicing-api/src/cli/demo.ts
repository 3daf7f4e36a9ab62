/**
 * `pnpm --filter @ayala/example-invoicing-api demo`: migrate, seed 20,000 invoices (DEMO_INVOICES
 * to change), start the API on a free port, call every endpoint over HTTP and print, per
 * endpoint, the SQL-only latency (the same question straight to MariaDB through Prisma) next to
 * the served latency, after checking that both answer the same. Any difference fails the demo.
 * Then the `e2e` benchmark's table at this size (`demo-load.ts`: the API as its own process,
 * autocannon with 1 and 32 connections, served vs SQL over HTTP). In a terminal the API and its
 * dashboard page stay up (their URLs printed) until Ctrl-C; run by a test or CI, it exits.
 */
import { isDeepStrictEqual } from 'node:util'
import type { Cache } from '@ayala/cache'
import { getCacheToken } from '@ayala/nestjs'
import { startApp } from '../bootstrap.ts'
import { serviceAddresses } from '../config.ts'
import { openDatabase } from '../database/connection.ts'
import { migrate } from '../database/migrate.ts'
import type { InvoiceView } from '../invoices/invoice.ts'
import { ReportRepository } from '../reports/report.repository.ts'
import type { SearchAnswer } from '../search/search.controller.ts'
import { reusableDataset, seed } from '../seed/seed.ts'
import { loadTable } from './demo-load.ts'
import { parsePrometheusText } from './prometheus-text.ts'
import { sqlAutocomplete, sqlDashboard, sqlInvoice, sqlSearch } from './reference-queries.ts'

const startedAt = Date.now()
const count = Number(process.env.DEMO_INVOICES || 20_000)
const addresses = serviceAddresses()
/** Runs of a SQL-only question: a scan at a million rows takes seconds, so a few only there. */
const sqlRuns = (n: number) => (count > 200_000 ? Math.min(n, 3) : n)

function fail(message: string): never {
  throw new Error(`demo check failed: ${message}`)
}

/** p50 and p99 of `samples` (microseconds), as text. */
function percentiles(samples: number[]): [string, string] {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  return [format(at(0.5)), format(at(0.99))]
}

function format(us: number): string {
  if (us >= 1_000) return `${(us / 1_000).toFixed(us >= 10_000 ? 1 : 2)} ms`
  return `${Math.round(us)} us`
}

/** Run `fn` `times` times in sequence; microseconds of each call. */
async function time(times: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < times; i++) {
    const started = process.hrtime.bigint()
    await fn(i)
    samples.push(Number(process.hrtime.bigint() - started) / 1_000)
  }
  return samples
}

console.log(
  `demo: migrating and seeding ${count.toLocaleString('en')} invoices into ${new URL(addresses.databaseUrl).pathname.slice(1)}`,
)
const migrations = await migrate(addresses.databaseUrl)
console.log(`migrations: ${migrations.applied.length} applied, ${migrations.skipped.length} already there`)
// The data set is deterministic: a database already seeded with `count` invoices (and its index
// and topic) is reused unless DEMO_RESEED=1.
const reused = process.env.DEMO_RESEED === '1' ? undefined : await reusableDataset(addresses, count)
const seeded = reused === undefined ? await seed(addresses, { count }) : undefined
if (reused !== undefined)
  console.log(`seed: reusing dataset ${reused.generation} (DEMO_RESEED=1 seeds again)`)

const { app, url } = await startApp(addresses, { logger: ['error', 'warn'], slowThresholdMs: 1_000 })
const db = openDatabase(addresses.databaseUrl, 4)
const reports = new ReportRepository(db)
const rows: string[][] = []
const checks: string[] = []

async function get<T>(path: string): Promise<T> {
  const response = await fetch(`${url}${path}`)
  if (!response.ok) fail(`GET ${path} answered ${response.status}: ${await response.text()}`)
  return (await response.json()) as T
}

async function patch(id: number, body: unknown): Promise<InvoiceView> {
  const response = await fetch(`${url}/invoices/${id}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (!response.ok) fail(`PATCH /invoices/${id} answered ${response.status}: ${await response.text()}`)
  return (await response.json()) as InvoiceView
}

/** Poll the dashboard until its figures equal SQL's (the aggregator applies events asynchronously). */
async function dashboardMatchesSql(): Promise<number> {
  const started = Date.now()
  for (;;) {
    const [served, sql] = await Promise.all([
      get<{ figures: Record<string, unknown> }>('/dashboard'),
      sqlDashboard(db.prisma),
    ])
    if (isDeepStrictEqual(served.figures, sql)) return Date.now() - started
    if (Date.now() - started > 60_000) {
      fail(`dashboard ${JSON.stringify(served.figures)} != SQL ${JSON.stringify(sql)} after 60 s`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

try {
  // The aggregator consumes the seed's events from the start of the topic.
  const caughtUp = await dashboardMatchesSql()
  console.log(
    `dashboard: ${count} seed events applied, figures equal SQL's GROUP BY (${caughtUp} ms after start)`,
  )

  // GET /invoices/:id: 200 ids; the first pass loads them (cache misses), then cache hits.
  const ids = Array.from({ length: 200 }, (_, i) => 1 + ((i * 97) % count))
  const sqlOne = await time(sqlRuns(400), (i) => sqlInvoice(db.prisma, ids[i % ids.length] as number))
  // A previous run may have left these entries in Redis: invalidate them so the first pass
  // really loads from the database.
  const cache = app.get<Cache>(getCacheToken(), { strict: false })
  await cache.invalidateTags(ids.map((id) => `invoice:${id}`))
  const misses = await time(ids.length, (i) => get(`/invoices/${ids[i]}`))
  const hits = await time(500, (i) => get(`/invoices/${ids[i % ids.length]}`))
  for (const id of ids.slice(0, 50)) {
    const [served, sql] = await Promise.all([get(`/invoices/${id}`), sqlInvoice(db.prisma, id)])
    if (!isDeepStrictEqual(served, sql)) fail(`GET /invoices/${id} differs from SQL`)
  }
  rows.push(['GET /invoices/:id (first read: miss)', ...percentiles(sqlOne), ...percentiles(misses), 'equal'])
  rows.push(['GET /invoices/:id (cached: L1)', ...percentiles(sqlOne), ...percentiles(hits), 'equal'])

  // GET /search: every word, any accent.
  const words = 'climatizacion urgente'
  const sqlFind = await time(sqlRuns(10), () => sqlSearch(db.prisma, words))
  const found = await time(100, () => get(`/search?q=${encodeURIComponent(words)}`))
  const served = await get<SearchAnswer>(`/search?q=${encodeURIComponent(words)}`)
  const truth = await sqlSearch(db.prisma, words)
  if (served.total !== truth.total || served.total === 0)
    fail(`search total ${served.total} != SQL ${truth.total}`)
  if (!served.hits.every((hit) => /climatización/.test(hit.description)))
    fail('a search hit lacks "climatización"')
  rows.push([
    `GET /search?q=${words}`,
    ...percentiles(sqlFind),
    ...percentiles(found),
    `${served.total} hits both`,
  ])

  // GET /autocomplete: the last word partial.
  const typed = 'consultoria trib'
  const sqlTyped = await time(sqlRuns(20), () => sqlAutocomplete(db.prisma, typed, 8))
  const typedServed = await time(100, () => get(`/autocomplete?q=${encodeURIComponent(typed)}`))
  const suggestions = await get<SearchAnswer>(`/autocomplete?q=${encodeURIComponent(typed)}`)
  const sqlIds = new Set(await sqlAutocomplete(db.prisma, typed))
  if (suggestions.hits.length === 0 || !suggestions.hits.every((hit) => sqlIds.has(hit.id))) {
    fail(`autocomplete hits ${suggestions.hits.map((h) => h.id).join(',')} not all in SQL's ${sqlIds.size}`)
  }
  rows.push([
    `GET /autocomplete?q=${typed}`,
    ...percentiles(sqlTyped),
    ...percentiles(typedServed),
    'hits in SQL set',
  ])

  // GET /dashboard.
  const sqlDash = await time(sqlRuns(20), () => sqlDashboard(db.prisma))
  const dash = await time(500, () => get('/dashboard'))
  rows.push(['GET /dashboard', ...percentiles(sqlDash), ...percentiles(dash), 'equal'])

  // GET /reports/monthly (every month).
  const range = { from: '2000-01', to: '2099-12' }
  const sqlReport = await time(sqlRuns(20), () => reports.monthlyFromSql(range))
  const report = await time(300, () => get('/reports/monthly'))
  if (!isDeepStrictEqual(await get('/reports/monthly'), await reports.monthlyFromSql(range))) {
    fail('GET /reports/monthly differs from SQL')
  }
  rows.push(['GET /reports/monthly', ...percentiles(sqlReport), ...percentiles(report), 'equal'])

  // PATCH: 20 status changes; each GET right after shows the new value, and the dashboard and
  // the report converge to SQL's figures again.
  const statuses = ['paid', 'cancelled', 'overdue', 'issued'] as const
  const patched = await time(20, async (i) => {
    const id = ids[i] as number
    const written = await patch(id, { status: statuses[i % statuses.length] })
    const read = await get<InvoiceView>(`/invoices/${id}`)
    if (read.version !== written.version || read.status !== written.status)
      fail(`GET /invoices/${id} is stale`)
  })
  const converged = await dashboardMatchesSql()
  if (!isDeepStrictEqual(await get('/reports/monthly'), await reports.monthlyFromSql(range))) {
    fail('GET /reports/monthly is stale after the updates')
  }
  rows.push([
    'PATCH /invoices/:id + GET',
    '-',
    '-',
    ...percentiles(patched),
    `not stale; dashboard = SQL in ${converged} ms`,
  ])

  // GET /dashboard/stream: the first `figures` event is the current snapshot (a `status` event,
  // live or rebuilding, may come before it).
  const controller = new AbortController()
  const sseStarted = process.hrtime.bigint()
  const stream = await fetch(`${url}/dashboard/stream`, { signal: controller.signal })
  const reader = (stream.body as ReadableStream<Uint8Array>).getReader()
  let text = ''
  const figuresEvent = (): { figures?: unknown } | undefined => {
    // Complete events only: the last block may still be arriving.
    for (const block of text.split('\n\n').slice(0, -1)) {
      const line = block.split('\n').find((l) => l.startsWith('data:'))
      const data = line === undefined ? undefined : (JSON.parse(line.slice(5)) as { figures?: unknown })
      if (data?.figures !== undefined) return data
    }
    return undefined
  }
  while (figuresEvent() === undefined) {
    const { value, done } = await reader.read()
    if (done) fail('the SSE stream ended before its first figures event')
    text += new TextDecoder().decode(value)
  }
  const sseUs = Number(process.hrtime.bigint() - sseStarted) / 1_000
  controller.abort()
  const event = figuresEvent()
  if (!isDeepStrictEqual(event?.figures, await sqlDashboard(db.prisma)))
    fail('the SSE snapshot differs from SQL')
  rows.push(['GET /dashboard/stream (first event)', '-', '-', format(sseUs), '-', 'equal'])

  // GET /health and GET /metrics.
  const health = await time(20, () => get<{ status: string }>('/health'))
  const status = await get<{ status: string }>('/health')
  if (status.status !== 'ok') fail(`health is ${JSON.stringify(status)}`)
  rows.push(['GET /health', '-', '-', ...percentiles(health), 'ok'])
  const metricsText = await (await fetch(`${url}/metrics`)).text()
  const samples = parsePrometheusText(metricsText)
  // The server-side p50 as Prometheus computes it (histogram_quantile: linear within the bucket
  // that holds the rank), from the interceptor's histogram: the in-process summary is off.
  const serverP50 = (route: string) => {
    const buckets = samples
      .filter(
        (s) =>
          s.name === 'ayala_http_request_duration_seconds_bucket' &&
          s.labels.route === route &&
          s.labels.method === 'GET' &&
          s.labels.status_code === '200',
      )
      .map((s) => ({
        le: s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le),
        n: s.value,
      }))
      .sort((a, b) => a.le - b.le)
    const total = buckets.at(-1)?.n ?? 0
    if (total === 0) return undefined
    const rank = total / 2
    let lower = 0
    let below = 0
    for (const { le, n } of buckets) {
      if (n >= rank)
        return le === Number.POSITIVE_INFINITY ? lower : lower + ((le - lower) * (rank - below)) / (n - below)
      lower = le
      below = n
    }
    return undefined
  }
  checks.push(
    `metrics: ${samples.length} samples parsed; p50 measured by the interceptor (no HTTP client; histogram_quantile over its buckets): ` +
      ['/invoices/:id', '/dashboard', '/reports/monthly', '/search', '/autocomplete']
        .map((route) => `${route} ${format((serverP50(route) ?? Number.NaN) * 1e6)}`)
        .join(', '),
  )

  // A second instance of the API (another process in production): its L1 is empty, so its first
  // read of each invoice is an L2 hit (Redis), filled by the first instance. An update through
  // the first instance reaches the second's L1 through the cache's bus.
  const second = await startApp(addresses, { logger: ['error'], slowThresholdMs: 1_000 })
  try {
    const getB = async <T>(path: string): Promise<T> => {
      const response = await fetch(`${second.url}${path}`)
      if (!response.ok) fail(`instance B: GET ${path} answered ${response.status}`)
      return (await response.json()) as T
    }
    // Warm instance B's HTTP path on other invoices first (its first requests set up connections).
    for (let i = 1; i <= 20; i++) await getB(`/invoices/${count + 1 - i}`)
    const l2 = await time(ids.length, (i) => getB(`/invoices/${ids[i]}`))
    // Shown right under the L1 row.
    rows.splice(2, 0, [
      'GET /invoices/:id (second instance: L2, Redis)',
      ...percentiles(sqlOne),
      ...percentiles(l2),
      'equal',
    ])
    const id = ids[0] as number
    if (!isDeepStrictEqual(await getB(`/invoices/${id}`), await sqlInvoice(db.prisma, id))) {
      fail(`instance B: GET /invoices/${id} differs from SQL`)
    }
    const written = await patch(id, { description: 'Mantenimiento de climatización revisado' })
    const deadline = Date.now() + 5_000
    let seen = await getB<InvoiceView>(`/invoices/${id}`)
    while (seen.version !== written.version && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      seen = await getB<InvoiceView>(`/invoices/${id}`)
    }
    if (seen.version !== written.version)
      fail(`instance B still serves version ${seen.version} of invoice ${id}`)
    checks.push(
      `two instances: an update through A is served by B (version ${seen.version}) after the bus invalidation`,
    )
  } finally {
    await second.app.close()
  }
} finally {
  await app.close()
  await db.close()
}

if (seeded !== undefined) {
  console.log(
    `\nseeded: ${seeded.invoices} invoices, ${seeded.lines} lines (MariaDB ${seeded.timings.database} ms, ` +
      `search bulk ${seeded.timings.search} ms, Kafka ${seeded.timings.kafka} ms); dataset ${seeded.names.generation}`,
  )
}
for (const line of checks) console.log(line)
console.log('\n| endpoint | SQL-only p50 | SQL-only p99 | served p50 | served p99 | served = SQL |')
console.log('|---|---:|---:|---:|---:|---|')
for (const row of rows) console.log(`| ${row.join(' | ')} |`)
console.log(`\ndemo: every check passed in ${((Date.now() - startedAt) / 1_000).toFixed(1)} s`)

// The plan's table at this size: the API as its own process, under load.
const interactive = process.stdout.isTTY === true
const names = seeded?.names ?? reused
if (names === undefined) fail('no dataset')
console.log(
  `\nunder load (autocannon over loopback, 1 and 32 connections, ${process.env.DEMO_DURATION || 2} s per run; API and SQL reference server in processes of their own):`,
)
const loaded = await loadTable({
  addresses,
  names,
  count,
  durationS: Number(process.env.DEMO_DURATION || 2),
  port: interactive ? await portOrFree(Number(process.env.PORT || 3000)) : undefined,
})
console.log(`\n${loaded.markdown}`)
console.log(
  `\nAt 1,000,000 invoices: DEMO_INVOICES=1000000 pnpm --filter @ayala/example-invoicing-api demo (the seed takes 3 minutes on a quiet machine, 30 on a loaded one, once; then the dataset is reused), ` +
    'or pnpm bench e2e (its own database; the table in the README).',
)
if (interactive) {
  console.log(`\nThe API is running: ${loaded.app.url}  (pid ${loaded.app.pid})`)
  console.log(`  dashboard page   ${loaded.app.url}/`)
  console.log(
    `  API              ${loaded.app.url}/dashboard  ${loaded.app.url}/invoices/1  ${loaded.app.url}/search?q=climatizacion`,
  )
  console.log(`  metrics, health  ${loaded.app.url}/metrics  ${loaded.app.url}/health`)
  console.log('Ctrl-C stops it.')
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })
  console.log('\nstopping the API')
}
await loaded.app.stop()

/** `port` when nothing listens on it, else a free one. */
async function portOrFree(port: number): Promise<number | undefined> {
  const { createServer } = await import('node:net')
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', () => resolve(undefined))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(port)))
  })
}
