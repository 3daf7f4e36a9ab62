/**
 * The example with its Redis hung or refused (issue 14): the app runs for real (Nest + Prisma on
 * MariaDB, Kafka, OpenSearch) with every Redis link of its own (the cache, the dashboard and its
 * aggregator, the Redis health check) through a loopback proxy that the test blackholes (bytes
 * held: a frozen server) or cuts (refused). Before the fix, `GET /dashboard` hung for more than
 * 95 s and `/metrics` for more than 10 s.
 *
 * Asserted (counts only): no `/dashboard` answer later than the dashboard's 500 ms deadline plus
 * a 1 s margin, each one 200 with the figures held (marked `stale` once noticed, never other
 * figures) or a 503; no `/metrics` answer later than the 2 s collect deadline plus the margin,
 * naming `stream_lag` down; `/health` 503; `/invoices/:id` 200 from the database; the SSE stream
 * says `stale` in a status event and stays open; an invoice created during the outage answers
 * 201 and shows at once in a list page that was cached before it (the invalidation applied
 * locally). Restored, with the writes committed during the outage: `/dashboard` fresh and equal
 * to the SQL truth, the stream resynchronized to it, the list page equal to SQL, `stream_lag` up,
 * `/health` 200.
 */
import { isDeepStrictEqual } from 'node:util'
import { startTcpProxy, type TcpProxy } from '@ayala/testkit'
import type { INestApplication } from '@nestjs/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../src/database/connection.ts'
import { provisionDataset } from '../helpers/dataset.ts'

const INVOICES = 300
const DASHBOARD_TIMEOUT_MS = 500
const COLLECT_TIMEOUT_MS = 2_000
/** Scheduling noise on the shared 2-core machine, plus the HTTP hop. */
const MARGIN_MS = 1_000

interface Answer {
  late: boolean
  ms: number
  status: number
  retryAfter: string | null
  text: string
}

/** Every SSE event of a fetch body (`event` and parsed `data`), as it arrives. */
function collect(body: ReadableStream<Uint8Array>): Array<{ event: string; data: any }> {
  const events: Array<{ event: string; data: any }> = []
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }))
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      const blocks = buffer.split('\n\n')
      buffer = blocks.pop() ?? ''
      for (const block of blocks) {
        const event = /^event: (.*)$/m.exec(block)?.[1]
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (event && data) events.push({ event, data: JSON.parse(data) })
      }
    }
  })()
  return events
}

describe('invoicing API with its Redis hung or refused', () => {
  let app: INestApplication | undefined
  let url: string
  let db: Database
  let sql: typeof import('../../src/cli/reference-queries.ts')
  let proxy: TcpProxy
  let dispose: (() => Promise<void>) | undefined
  const timings: Record<string, number[]> = {}

  async function get(path: string, bound: number): Promise<Answer> {
    const started = performance.now()
    let watchdog: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<'late'>((resolve) => {
      watchdog = setTimeout(() => resolve('late'), bound)
    })
    // A request still unanswered 10 s past its bound is given up (status 0): the old code hung
    // for minutes, and the test must end on it too.
    const call = fetch(`${url}${path}`, { signal: AbortSignal.timeout(bound + 10_000) }).then(
      async (response) => ({
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        text: await response.text(),
      }),
      () => ({ status: 0, retryAfter: null, text: '{}' }),
    )
    const first = await Promise.race([call, late])
    clearTimeout(watchdog)
    const outcome = first === 'late' ? { late: true, ...(await call) } : { late: false, ...first }
    const ms = performance.now() - started
    const route = path.split('?')[0]?.replace(/\/\d+$/, '/:id') ?? path
    timings[route] = [...(timings[route] ?? []), ms]
    return { ...outcome, ms }
  }
  const dashboard = async () => {
    const answer = await get('/dashboard', DASHBOARD_TIMEOUT_MS + MARGIN_MS)
    return { ...answer, body: JSON.parse(answer.text) as Record<string, any> }
  }
  const metrics = async () => {
    const answer = await get('/metrics', COLLECT_TIMEOUT_MS + MARGIN_MS)
    const up = (collector: string) => {
      const line = answer.text
        .split('\n')
        .find((l) => l.startsWith(`ayala_collector_up{collector="${collector}"}`))
      return line === undefined ? undefined : Number(line.split(' ').at(-1))
    }
    return { ...answer, up }
  }
  const truth = () => sql.sqlDashboard(db.prisma)

  beforeAll(async () => {
    let addresses: Awaited<ReturnType<typeof provisionDataset>>['addresses']
    ;({ addresses, db, sql, dispose } = await provisionDataset('redisdown', INVOICES))
    const { startApp } = await import('../../src/bootstrap.ts')
    proxy = await startTcpProxy({ targetPort: Number(new URL(addresses.redisUrl).port || 6379) })
    const started = await startApp(
      { ...addresses, redisUrl: `redis://127.0.0.1:${proxy.port}` },
      { logger: false },
    )
    app = started.app
    url = started.url
    // The aggregator joins its group and applies the seeded events.
    const deadline = Date.now() + 90_000
    const expected = await truth()
    while (!isDeepStrictEqual((await dashboard()).body.figures, expected) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }, 240_000)

  afterAll(async () => {
    proxy?.restore()
    await app?.close()
    await proxy?.close()
    await dispose?.()
    const summary = Object.entries(timings).map(
      ([route, list]) => `${route} ${list.length} answers, slowest ${Math.max(...list).toFixed(0)} ms`,
    )
    console.log(`redis-unavailable: ${summary.join('; ')}`)
  })

  for (const fault of ['blackhole', 'cut'] as const) {
    it(`${fault}: /dashboard stale-marked within its deadline, /metrics says stream_lag down, /health 503; restored: fresh at the SQL truth`, async () => {
      const before = await dashboard()
      expect(before.status).toBe(200)
      expect(before.body).toMatchObject({ stale: false, status: 'live' })
      expect(before.body.figures).toEqual(await truth())

      const controller = new AbortController()
      const stream = await fetch(`${url}/dashboard/stream`, { signal: controller.signal })
      const events = collect(stream.body as ReadableStream<Uint8Array>)
      const seen = () => events.length
      while (events.filter((e) => e.event === 'figures').length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }

      // A list page in the cache (L1 and Redis) before the fault.
      const listPath = `/invoices?clientId=${fault === 'blackhole' ? 3 : 4}&limit=5`
      const listBefore = JSON.parse((await get(listPath, 5_000)).text) as { items: Array<{ id: number }> }
      expect(listBefore.items.length).toBeGreaterThan(0)

      if (fault === 'blackhole') proxy.blackhole()
      else proxy.cut()
      const reads = []
      const scrapes = []
      const invoices = []
      for (let i = 0; i < 8; i++) {
        reads.push(await dashboard())
        scrapes.push(await metrics())
        invoices.push(await get(`/invoices/${i + 1}`, 5_000))
      }
      // A write during the outage: committed in MariaDB, its effects wait in the outbox.
      const write = await fetch(`${url}/invoices/11`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ description: `Revisión durante el corte (${fault})` }),
      })
      // A creation during the outage: 201, and the cached page shows it (dropped locally).
      const created = await fetch(`${url}/invoices`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          clientId: fault === 'blackhole' ? 3 : 4,
          issuedAt: '2099-12-31',
          dueAt: '2099-12-31',
          currency: 'EUR',
          lines: [
            { description: 'Revisión durante el corte', quantity: 1, unitPriceCents: 100, taxRateBp: 0 },
          ],
        }),
      })
      const createdId = ((await created.json()) as { id: number }).id
      const listDuring = JSON.parse((await get(listPath, 5_000)).text) as { items: Array<{ id: number }> }
      const health = await get('/health', 5_000)
      const eventsDuringFault = seen()
      proxy.restore()
      const restoredAt = performance.now()

      expect([...reads, ...scrapes].filter((a) => a.late)).toHaveLength(0)
      const unexpected = reads.filter((r) => r.status !== 200 && r.status !== 503)
      expect(unexpected).toHaveLength(0)
      // 200 answers hold the figures read before the fault: marked stale once it was noticed.
      const served = reads.filter((r) => r.status === 200)
      expect(served.every((r) => isDeepStrictEqual(r.body.figures, before.body.figures))).toBe(true)
      expect(served.filter((r) => r.body.stale === true).length).toBeGreaterThan(0)
      expect(served.at(-1)?.body).toMatchObject({ stale: true, version: before.body.version })
      for (const r of reads.filter((r) => r.status === 503)) {
        expect(r.body).toMatchObject({ code: 'E_STREAM_UNAVAILABLE', retriable: true })
        expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1)
      }
      expect(scrapes.map((s) => s.status)).toEqual(Array(8).fill(200))
      expect(scrapes.slice(-3).map((s) => s.up('stream_lag'))).toEqual([0, 0, 0])
      expect(invoices.map((i) => i.status)).toEqual(Array(8).fill(200))
      expect(health.status).toBe(503)
      expect([200, 503]).toContain(write.status)
      expect(created.status).toBe(201)
      // Committed, and the answers say the other instances were not told yet (Redis unreachable).
      if (write.status === 200) expect(write.headers.get('cache-coherence')).toBe('deferred')
      expect(created.headers.get('cache-coherence')).toBe('deferred')
      expect(listDuring.items[0]?.id).toBe(createdId)
      const staleStatus = events
        .slice(0, eventsDuringFault)
        .find((e) => e.event === 'status' && e.data.stale === true)
      expect(staleStatus?.data).toMatchObject({ stale: true, status: 'live' })

      // Restored: the outbox delivers the write's event, the aggregator applies it, the reads
      // and the stream come back fresh at the SQL truth.
      const expected = await truth()
      const deadline = Date.now() + 90_000
      let fresh = await dashboard()
      while (
        !(fresh.body.stale === false && isDeepStrictEqual(fresh.body.figures, expected)) &&
        Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 200))
        fresh = await dashboard()
      }
      expect(fresh.body).toMatchObject({ stale: false, figures: expected })
      const listAfter = JSON.parse((await get(listPath, 5_000)).text) as { items: Array<{ id: number }> }
      const listTruth = await db.prisma.invoice.findMany({
        where: { clientId: fault === 'blackhole' ? 3 : 4 },
        orderBy: [{ issuedAt: 'desc' }, { id: 'desc' }],
        take: 5,
        select: { id: true },
      })
      expect(listAfter.items.map((item) => item.id)).toEqual(listTruth.map((row) => row.id))
      const healedMs = performance.now() - restoredAt
      console.log(
        `redis-unavailable ${fault}: ${served.filter((r) => r.body.stale).length} of ${reads.length} /dashboard answers stale-marked, ${reads.length - served.length} 503; PATCH during the outage ${write.status}; /dashboard fresh at the SQL truth ${healedMs.toFixed(0)} ms after the restore`,
      )
      while (
        !events.some(
          (e, i) =>
            i >= eventsDuringFault &&
            e.event === 'figures' &&
            !e.data.stale &&
            isDeepStrictEqual(e.data.figures, expected),
        ) &&
        Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const back = events.slice(eventsDuringFault)
      expect(back.some((e) => e.event === 'status' && e.data.stale === false)).toBe(true)
      expect(back.find((e) => e.event === 'figures' && !e.data.stale)?.data.resync).toBe(true)
      expect(back.some((e) => e.event === 'figures' && isDeepStrictEqual(e.data.figures, expected))).toBe(
        true,
      )
      controller.abort()
      while ((await metrics()).up('stream_lag') !== 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      expect((await metrics()).up('stream_lag')).toBe(1)
      while ((await get('/health', 5_000)).status !== 200 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
      expect((await get('/health', 5_000)).status).toBe(200)
    }, 240_000)
  }
})
