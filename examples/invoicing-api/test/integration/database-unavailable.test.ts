/**
 * The example with its database hung or refused (issue 14: a dependency failure is a fast 503,
 * never a hang and never a 500). The app runs for real with its MariaDB pool behind a loopback
 * proxy that the test blackholes (a frozen server: bytes held) and then cuts (refused).
 *
 * Asserted (counts only): every request that needs the database (an invoice that is not cached,
 * a PATCH, and the API of issue 21: POST and DELETE of invoices, POST and PATCH of clients, an
 * uncached list page and client, the dashboard and the report from SQL) answers 503 with
 * `Retry-After` and the fixed body, none later than its bound (the
 * pool's 10 s socket timeout for a query already sent on a hung link, its 2 s acquire timeout
 * otherwise, plus a margin); an invoice already cached is still served (200); no answer is a 500;
 * no body names the database's address or user. Restored: the same reads and a PATCH succeed.
 * Before: with the link cut, uncached reads answered 500 (after 10 s, the pool's default acquire
 * timeout); with it hung, a read never answered (the kernel's TCP timeout, minutes).
 */
import { startTcpProxy, type TcpProxy } from '@ayala/testkit'
import type { INestApplication } from '@nestjs/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { APP_POOL_TIMEOUTS } from '../../src/database/connection.ts'
import { provisionDataset, type TestDataset } from '../helpers/dataset.ts'

const INVOICES = 200
/** Scheduling noise on the shared 2-core machine, plus the HTTP hop. */
const MARGIN_MS = 2_000

interface Answer {
  late: boolean
  status: number
  retryAfter: string | null
  body: string
}

describe('invoicing API with its database hung or refused', () => {
  let dataset: TestDataset
  let app: INestApplication | undefined
  let url: string
  let proxy: TcpProxy

  beforeAll(async () => {
    dataset = await provisionDataset('dbdown', INVOICES)
    const { startApp } = await import('../../src/bootstrap.ts')
    const target = new URL(dataset.addresses.databaseUrl)
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 3306) })
    target.host = `127.0.0.1:${proxy.port}`
    const started = await startApp(
      { ...dataset.addresses, databaseUrl: target.toString() },
      { logger: false },
    )
    app = started.app
    url = started.url
  })

  afterAll(async () => {
    proxy?.restore()
    await app?.close()
    await proxy?.close()
    await dataset?.dispose()
  })

  async function call(path: string, bound: number, init: RequestInit = {}): Promise<Answer> {
    let watchdog: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<'late'>((resolve) => {
      watchdog = setTimeout(() => resolve('late'), bound)
    })
    const request = fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(bound + 30_000) }).then(
      async (response) => ({
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        body: await response.text(),
      }),
      () => ({ status: 0, retryAfter: null, body: '' }),
    )
    const first = await Promise.race([request, late])
    clearTimeout(watchdog)
    return first === 'late' ? { late: true, ...(await request) } : { late: false, ...first }
  }

  const patch = (id: number, bound: number) =>
    call(`/invoices/${id}`, bound, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ description: `Revisión ${id} durante el corte` }),
    })

  const json = (method: string, body: unknown): RequestInit => ({
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const newInvoice = {
    clientId: 3,
    issuedAt: '2026-12-01',
    dueAt: '2026-12-31',
    currency: 'EUR',
    lines: [{ description: 'Mano de obra', quantity: 1, unitPriceCents: 1_000, taxRateBp: 2100 }],
  }

  it('answers 503 fast while the database is hung, then refused; a cached invoice is still served', async () => {
    // Warm the cache with invoice 1 (its read is the database's, then the cache's).
    expect((await call('/invoices/1', 10_000)).status).toBe(200)
    const hungBound = APP_POOL_TIMEOUTS.socketTimeout + APP_POOL_TIMEOUTS.acquireTimeout + MARGIN_MS
    const refusedBound = APP_POOL_TIMEOUTS.acquireTimeout + MARGIN_MS
    const answers: Array<Answer & { phase: string; path: string }> = []

    proxy.blackhole()
    // Concurrent uncached reads and writes on the hung link: some wait for a connection, some
    // sent their query on a connection that is now silent.
    const hung = await Promise.all([
      ...[2, 3, 4, 5].map((id) =>
        call(`/invoices/${id}`, hungBound).then((a) => ({ ...a, path: `GET ${id}` })),
      ),
      ...[6, 7].map((id) => patch(id, hungBound).then((a) => ({ ...a, path: `PATCH ${id}` }))),
      call('/invoices', hungBound, json('POST', newInvoice)).then((a) => ({ ...a, path: 'POST /invoices' })),
      call('/invoices?clientId=3', hungBound).then((a) => ({ ...a, path: 'GET /invoices?clientId=3' })),
      call('/clients/4', hungBound).then((a) => ({ ...a, path: 'GET /clients/4' })),
      call('/dashboard?source=db', hungBound).then((a) => ({ ...a, path: 'GET /dashboard?source=db' })),
    ])
    answers.push(...hung.map((a) => ({ ...a, phase: 'hung' })))
    const cachedWhileHung = await call('/invoices/1', 2_000)

    proxy.cut()
    const refused = await Promise.all([
      ...[8, 9, 10].map((id) =>
        call(`/invoices/${id}`, refusedBound).then((a) => ({ ...a, path: `GET ${id}` })),
      ),
      patch(11, refusedBound).then((a) => ({ ...a, path: 'PATCH 11' })),
      call('/invoices/14', refusedBound, { method: 'DELETE' }).then((a) => ({ ...a, path: 'DELETE 14' })),
      call('/clients/5', refusedBound, json('PATCH', { name: 'Durante el corte' })).then((a) => ({
        ...a,
        path: 'PATCH /clients/5',
      })),
      call('/clients', refusedBound, json('POST', { name: 'Nueva', taxId: 'B77', city: 'León' })).then(
        (a) => ({
          ...a,
          path: 'POST /clients',
        }),
      ),
      call('/reports/monthly?year=2026&source=db', refusedBound).then((a) => ({
        ...a,
        path: 'GET report db',
      })),
    ])
    answers.push(...refused.map((a) => ({ ...a, phase: 'refused' })))
    const cachedWhileRefused = await call('/invoices/1', 2_000)

    const late = answers.filter((a) => a.late).map((a) => `${a.phase} ${a.path}`)
    const statuses = answers.map((a) => `${a.phase} ${a.path} ${a.status}`)
    console.log(`[database down] ${answers.length} answers: ${statuses.join(', ')}; late: ${late.length}`)
    expect(late).toEqual([])
    expect(answers.every((a) => a.status === 503 && a.retryAfter === '1')).toBe(true)
    for (const answer of answers) {
      expect(JSON.parse(answer.body)).toMatchObject({ statusCode: 503, code: 'E_DATABASE_UNAVAILABLE' })
      expect(answer.body).not.toContain(String(proxy.port))
      expect(answer.body).not.toContain('root')
    }
    expect(cachedWhileHung.status).toBe(200)
    expect(cachedWhileRefused.status).toBe(200)

    proxy.restore()
    let healed: Answer | undefined
    for (let attempt = 0; attempt < 50; attempt++) {
      healed = await call('/invoices/12', 10_000)
      if (healed.status === 200) break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(healed?.status).toBe(200)
    expect((await patch(13, 10_000)).status).toBe(200)
    expect((await call('/invoices', 10_000, json('POST', newInvoice))).status).toBe(201)
    expect((await call('/invoices/14', 10_000, { method: 'DELETE' })).status).toBe(200)
    expect((await call('/clients/5', 10_000, json('PATCH', { name: 'Tras el corte' }))).status).toBe(200)
  })
})
