/**
 * The example's `/metrics` as the tools users run see it: `promtool check metrics` (Debian's
 * `prometheus` package) finds nothing to complain about, and a real Prometheus scraping the app
 * every second answers PromQL over the scraped series with the traffic the test drove: the exact
 * request counts per route, a non-zero request rate, a p95 per exercised route from the
 * histogram buckets, the search latency histogram, and the dashboard's SSE stream counted as a
 * stream, not as a request with a latency.
 *
 * Nothing is skipped: without promtool or prometheus on PATH the test fails saying that
 * scripts/setup.sh installs them.
 */
import type { INestApplication } from '@nestjs/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { provisionDataset } from '../helpers/dataset.ts'
import {
  type PrometheusServer,
  promtoolCheckMetrics,
  requireTool,
  startPrometheus,
} from '../helpers/prometheus.ts'

const INVOICES = 60
/** GET /invoices/:id requests of the measured traffic (after one warm-up request). */
const INVOICE_READS = 40
/** GET /search requests of the measured traffic (after one warm-up request). */
const SEARCHES = 8

/** Poll `read` until `done(value)` or `timeoutMs`; returns the last value read. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let value = await read()
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    value = await read()
  }
  return value
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('the example under promtool and a real Prometheus', () => {
  let app: INestApplication | undefined
  let url: string
  let dispose: (() => Promise<void>) | undefined
  let prometheus: PrometheusServer | undefined

  beforeAll(async () => {
    // Fail at once (not after seeding) when the tools are missing; the message names the fix.
    requireTool('promtool')
    requireTool('prometheus')
    let addresses: Awaited<ReturnType<typeof provisionDataset>>['addresses']
    ;({ addresses, dispose } = await provisionDataset('prom', INVOICES))
    const { startApp } = await import('../../src/bootstrap.ts')
    const started = await startApp(addresses, { logger: false })
    app = started.app
    url = started.url
  })

  afterAll(async () => {
    await prometheus?.stop()
    await app?.close()
    await dispose?.()
  })

  async function get(path: string): Promise<number> {
    const response = await fetch(`${url}${path}`)
    await response.arrayBuffer()
    return response.status
  }

  /** Open the dashboard's SSE stream, read its first bytes, leave. */
  async function visitDashboardStream(): Promise<void> {
    const controller = new AbortController()
    const response = await fetch(`${url}/dashboard/stream`, { signal: controller.signal })
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    await (response.body as ReadableStream<Uint8Array>).getReader().read()
    controller.abort()
  }

  it('passes promtool check metrics once every family has samples', async () => {
    expect(await get('/invoices/1')).toBe(200)
    expect(await get('/search?q=consultoria')).toBe(200)
    expect(await get('/dashboard')).toBe(200)
    await visitDashboardStream()
    const text = await (await fetch(`${url}/metrics`)).text()
    // The families the issue was about are there, as histograms.
    expect(text).toContain('# TYPE ayala_http_request_duration_seconds histogram')
    expect(text).toContain('# TYPE ayala_search_request_duration_seconds histogram')
    expect(text).not.toMatch(/quantile="/)
    const result = await promtoolCheckMetrics(text)
    expect(result).toEqual({ code: 0, output: '' })
  })

  it('is scraped by Prometheus, and PromQL gives the rates and percentiles of the traffic driven', async () => {
    const address = app?.getHttpServer().address() as { port: number }
    prometheus = await startPrometheus(`127.0.0.1:${address.port}`)
    const server = prometheus
    const job = `job="${server.job}"`
    const upAt = await until(
      () => server.targetUp(),
      (up) => up,
    )
    expect(upAt, `target never up; prometheus said: ${server.log()}`).toBe(true)

    // The warm-up requests of the first test are in the series before the measured traffic, so
    // the window of the rate below holds a sample from before the traffic (its increase is > 0).
    const invoiceCount = `sum(ayala_http_request_duration_seconds_count{${job},method="GET",route="/invoices/:id"})`
    const before = await until(
      () => server.query(invoiceCount),
      (series) => series[0]?.value === 1,
    )
    expect(before.map((s) => s.value)).toEqual([1])

    // The measured traffic, spread over a few scrapes.
    for (let i = 0; i < INVOICE_READS; i++) {
      expect(await get(`/invoices/${(i % INVOICES) + 1}`)).toBe(200)
      if (i < SEARCHES)
        expect(await get(`/search?q=${i % 2 === 0 ? 'climatizacion' : 'consultoria'}`)).toBe(200)
      await sleep(75)
    }
    await visitDashboardStream()

    // Prometheus has scraped everything once it reports the exact totals.
    const searchCount = `sum(ayala_http_request_duration_seconds_count{${job},method="GET",route="/search"})`
    const seen = await until(
      async () => [(await server.query(invoiceCount))[0]?.value, (await server.query(searchCount))[0]?.value],
      ([invoices, searches]) => invoices === INVOICE_READS + 1 && searches === SEARCHES + 1,
    )
    expect(seen).toEqual([INVOICE_READS + 1, SEARCHES + 1])
    const at = Date.now() / 1000

    const rate = await server.query(`sum(rate(ayala_http_request_duration_seconds_count{${job}}[30s]))`, at)
    expect(rate).toHaveLength(1)
    expect(rate[0]?.value).toBeGreaterThan(0)

    const p95 = await server.query(
      `histogram_quantile(0.95, sum by (le, route) (rate(ayala_http_request_duration_seconds_bucket{${job}}[30s])))`,
      at,
    )
    const byRoute = new Map(p95.map((s) => [s.metric.route, s.value]))
    for (const route of ['/invoices/:id', '/search']) {
      const value = byRoute.get(route)
      expect(value, `p95 of ${route} in ${JSON.stringify(p95)}`).toBeGreaterThan(0)
      expect(value).toBeLessThanOrEqual(10)
    }
    // The SSE stream is not a request with a latency: no percentile, but counted as a stream.
    expect(byRoute.has('/dashboard/stream')).toBe(false)
    // Counted once the stream ended, which may land in a scrape after the one holding the totals.
    const streamCount = `sum(ayala_http_streams_total{${job},route="/dashboard/stream"})`
    const streams = await until(
      () => server.query(streamCount),
      (series) => series[0]?.value === 2,
    )
    expect(streams.map((s) => s.value)).toEqual([2])

    // The search client's latency, as a histogram too: every search the app sent is counted.
    const searchLatency = await server.query(
      `sum(ayala_search_request_duration_seconds_count{${job}}) - sum(ayala_search_request_duration_seconds_bucket{${job},le="+Inf"})`,
    )
    expect(searchLatency.map((s) => s.value)).toEqual([0])
    const searchesSent = await server.query(`sum(ayala_search_request_duration_seconds_count{${job}})`)
    expect(searchesSent[0]?.value).toBeGreaterThanOrEqual(SEARCHES + 1)
    const searchP95 = await server.query(
      `histogram_quantile(0.95, sum by (le) (rate(ayala_search_request_duration_seconds_bucket{${job}}[30s])))`,
      at,
    )
    expect(searchP95[0]?.value).toBeGreaterThan(0)
  }, 180_000)
})
