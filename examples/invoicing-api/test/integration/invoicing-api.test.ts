/**
 * The invoicing API booted for real (Nest + Prisma on MariaDB, Redis, Kafka, OpenSearch) on a
 * database, Redis namespaces, topic and index of its own, seeded with 400 invoices.
 */
import { isDeepStrictEqual } from 'node:util'
import type { INestApplication } from '@nestjs/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceAddresses } from '../../src/config.ts'
import type { Database } from '../../src/database/connection.ts'
import type { InvoiceView } from '../../src/invoices/invoice.ts'
import type { SearchAnswer } from '../../src/search/search.controller.ts'
import { provisionDataset } from '../helpers/dataset.ts'

const INVOICES = 400

/** Poll `read` until `done(value)` or `timeoutMs`; returns the last value read. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let value = await read()
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    value = await read()
  }
  return value
}

describe('invoicing API on the real services', () => {
  let addresses: ServiceAddresses
  let app: INestApplication | undefined
  let url: string
  let db: Database
  let sql: typeof import('../../src/cli/reference-queries.ts')
  let dispose: (() => Promise<void>) | undefined
  let parsePrometheusText: typeof import('../../src/cli/prometheus-text.ts').parsePrometheusText

  async function get<T>(path: string): Promise<{ status: number; body: T }> {
    const response = await fetch(`${url}${path}`)
    return { status: response.status, body: (await response.json()) as T }
  }

  beforeAll(async () => {
    // The Prisma client is generated code (gitignored): generate it as the package scripts do.
    ;({ addresses, db, sql, dispose } = await provisionDataset('test', INVOICES))
    const { startApp } = await import('../../src/bootstrap.ts')
    ;({ parsePrometheusText } = await import('../../src/cli/prometheus-text.ts'))
    const started = await startApp(addresses, { logger: false })
    app = started.app
    url = started.url
  })

  afterAll(async () => {
    await app?.close()
    await dispose?.()
  })

  it('serves an invoice equal to the database row, and the new value right after an update', async () => {
    const before = await get<InvoiceView>('/invoices/7')
    expect(before.status).toBe(200)
    expect(before.body).toEqual(await sql.sqlInvoice(db.prisma, 7))
    // Read twice more: served from the cache from now on.
    expect((await get<InvoiceView>('/invoices/7')).body).toEqual(before.body)

    const status = before.body.status === 'paid' ? 'overdue' : 'paid'
    const response = await fetch(`${url}/invoices/7`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status, description: 'Reparación urgente del ascensor de Logroño' }),
    })
    expect(response.status).toBe(200)
    const after = await get<InvoiceView>('/invoices/7')
    expect(after.body).toMatchObject({
      status,
      description: 'Reparación urgente del ascensor de Logroño',
      version: before.body.version + 1,
    })
    expect(after.body).toEqual(await sql.sqlInvoice(db.prisma, 7))
  })

  it('rejects an invalid update and answers 404 for a missing invoice', async () => {
    const bad = await fetch(`${url}/invoices/7`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'lost' }),
    })
    expect(bad.status).toBe(400)
    expect((await get(`/invoices/${INVOICES + 1}`)).status).toBe(404)
  })

  it('finds accented words searched without accents, the updated invoice included', async () => {
    const updated = await until(
      async () => (await get<SearchAnswer>('/search?q=ascensor%20logrono')).body,
      (answer) => answer.total > 0,
      // The outbox worker indexes after the commit; a loaded engine's write queue may take seconds.
      90_000,
    )
    expect(updated.hits.map((hit) => hit.id)).toEqual([7])
    expect(updated.hits[0]?.description).toBe('Reparación urgente del ascensor de Logroño')

    const seeded = (await get<SearchAnswer>('/search?q=climatizacion')).body
    expect(seeded.total).toBeGreaterThan(0)
    expect(seeded.total).toBe((await sql.sqlSearch(db.prisma, 'climatizacion')).total)
    expect(seeded.hits.every((hit) => hit.description.includes('climatización'))).toBe(true)

    const typed = (await get<SearchAnswer>('/autocomplete?q=consultoria%20trib')).body
    expect(typed.hits.length).toBeGreaterThan(0)
    const truth = new Set(await sql.sqlAutocomplete(db.prisma, 'consultoria trib'))
    expect(typed.hits.every((hit) => truth.has(hit.id))).toBe(true)
  }, 120_000)

  it('keeps the dashboard equal to SQL totals once the events are applied, and pushes it over SSE', async () => {
    const expected = await sql.sqlDashboard(db.prisma)
    const served = await until(
      async () => (await get<{ figures: unknown }>('/dashboard')).body.figures,
      (figures) => isDeepStrictEqual(figures, expected),
      // The aggregator joins its consumer group at start-up; on a loaded machine that takes seconds.
      90_000,
    )
    expect(served).toEqual(expected)
    expect((served as { invoices: number }).invoices).toBe(INVOICES)

    const controller = new AbortController()
    const stream = await fetch(`${url}/dashboard/stream`, { signal: controller.signal })
    expect(stream.headers.get('content-type')).toContain('text/event-stream')
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader()
    // The stream may open with a `status` event (live, rebuilding...) before the figures.
    let text = ''
    const figuresEvent = () =>
      text
        .split('\n\n')
        .slice(0, -1) // complete events only: the last block may still be arriving
        .map((block) => block.split('\n').find((line) => line.startsWith('data:')))
        .find((line) => line !== undefined && JSON.parse(line.slice(5))?.figures !== undefined)
    while (figuresEvent() === undefined) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
    controller.abort()
    const data = figuresEvent()
    expect(JSON.parse(data?.slice(5) ?? 'null')?.figures).toEqual(expected)
  }, 120_000)

  it('serves the monthly report equal to the SQL aggregation', async () => {
    const { ReportRepository } = await import('../../src/reports/report.repository.ts')
    const truth = await new ReportRepository(db).monthlyFromSql({ from: '2025-06', to: '2026-03' })
    expect(truth.length).toBeGreaterThan(0)
    const served = await get('/reports/monthly?from=2025-06&to=2026-03')
    expect(served.body).toEqual(truth)
    expect((await get('/reports/monthly?from=2026-13&to=2026-01')).status).toBe(400)
  })

  it('reports every dependency up on /health', async () => {
    const health = await get<{ status: string; info: Record<string, { status: string }> }>('/health')
    expect(health.status).toBe(200)
    expect(health.body.status).toBe('ok')
    expect(Object.keys(health.body.info).sort()).toEqual([
      'cache',
      'dashboard',
      'dashboard-lag',
      'database',
      'kafka',
      'outbox',
      'redis',
      'search',
      'search-sync',
    ])
    expect(Object.values(health.body.info).every((check) => check.status === 'up')).toBe(true)
  })

  it('exposes parseable Prometheus metrics with the per-route histogram and cache figures', async () => {
    await get('/invoices/9')
    await get('/invoices/9')
    const response = await fetch(`${url}/metrics`)
    expect(response.status).toBe(200)
    const samples = parsePrometheusText(await response.text())
    const count = samples.find(
      (s) =>
        s.name === 'ayala_http_request_duration_seconds_count' &&
        s.labels.route === '/invoices/:id' &&
        s.labels.method === 'GET' &&
        s.labels.status_code === '200',
    )
    expect(count?.value).toBeGreaterThanOrEqual(2)
    const l1Hits = samples.find((s) => s.name === 'ayala_cache_hits_total' && s.labels.tier === 'l1')
    expect(l1Hits?.value).toBeGreaterThanOrEqual(1)
    const routeHits = samples.find(
      (s) =>
        s.name === 'ayala_http_request_cache_events_total' &&
        s.labels.route === '/invoices/:id' &&
        s.labels.result === 'l1_hit',
    )
    expect(routeHits?.value).toBeGreaterThanOrEqual(1)
  })

  it('serves an update made through another instance, not its own stale copy', async () => {
    const { startApp } = await import('../../src/bootstrap.ts')
    const second = await startApp(addresses, { logger: false })
    try {
      const before = (await (await fetch(`${second.url}/invoices/11`)).json()) as InvoiceView
      expect(before).toEqual(await sql.sqlInvoice(db.prisma, 11))
      // Now in the second instance's L1; the update goes through the first instance.
      const response = await fetch(`${url}/invoices/11`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ description: 'Auditoría de seguridad informática revisada' }),
      })
      expect(response.status).toBe(200)
      const seen = await until(
        async () => (await (await fetch(`${second.url}/invoices/11`)).json()) as InvoiceView,
        (invoice) => invoice.version === before.version + 1,
        10_000,
      )
      expect(seen).toEqual(await sql.sqlInvoice(db.prisma, 11))
      expect(seen.description).toBe('Auditoría de seguridad informática revisada')
    } finally {
      await second.app.close()
    }
  }, 120_000)
})
