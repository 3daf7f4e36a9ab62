/**
 * Bad input is refused and nothing is half-written: the invoicing API booted for real (Nest +
 * Prisma on MariaDB, Redis, Kafka, OpenSearch; a database, namespaces, topic and index of its
 * own, 200 invoices), then
 *
 * 1. every case of issue 14 and each rule of `src/validation/input.ts`, one request each, with
 *    the status and the parameter the answer must name;
 * 2. an HTTP fuzz run: `8 x FUZZ_RUNS` (default 300) random and adversarial requests
 *    (test/helpers/request-arbitraries.ts) sent as raw bytes, 8 at a time, on every endpoint.
 *    No answer may be a 5xx (a 503 of /health, which reports a dependency as down, is counted
 *    apart), every request must be answered within 15 s (the late ones are counted), and the
 *    database must hold exactly what the accepted PATCHes and DELETEs wrote: every row no
 *    accepted write touched is byte-identical, each patched invoice is at its initial version
 *    plus the number of PATCHes that answered 200 for it and equals the last of those answers,
 *    each deleted invoice is gone with its lines, the outbox grew by one write's effects per
 *    accepted write, and every invoice served afterwards (cache included) equals its row (404 for
 *    the deleted). `FUZZ_SEED` replays a run.
 */
import { createHash } from 'node:crypto'
import type { Server } from 'node:http'
import { isDeepStrictEqual } from 'node:util'
import type { INestApplication } from '@nestjs/common'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ResourceNames, ServiceAddresses } from '../../src/config.ts'
import type { Database } from '../../src/database/connection.ts'
import type { InvoiceView } from '../../src/invoices/invoice.ts'
import { provisionDataset } from '../helpers/dataset.ts'
import { type RawRequest, type RawResponse, responseBody, sendRaw } from '../helpers/raw-http.ts'
import { request as requestArbitrary } from '../helpers/request-arbitraries.ts'

const INVOICES = 200
const RUNS = Number(process.env.FUZZ_RUNS || 300)
const REQUESTS = 8 * RUNS
const CONCURRENCY = 8
const DEADLINE_MS = 15_000
const SEED = Number(process.env.FUZZ_SEED || Date.now() % 2 ** 31)

type Row = Record<string, unknown>

describe('bad input to the invoicing API', () => {
  let addresses: ServiceAddresses
  let names: ResourceNames
  let app: INestApplication | undefined
  let port: number
  let db: Database
  let sql: typeof import('../../src/cli/reference-queries.ts')
  let dispose: (() => Promise<void>) | undefined

  /** Every row of the domain tables, by table then primary key, as JSON text (dates as ISO). */
  async function tables(): Promise<Record<string, Map<string, string>>> {
    const out: Record<string, Map<string, string>> = {}
    for (const table of ['clients', 'invoices', 'invoice_lines', 'dataset']) {
      const rows = (await db.prisma.$queryRawUnsafe(`SELECT * FROM ${table} ORDER BY id`)) as Row[]
      out[table] = new Map(
        rows.map((row) => [
          String(row.id),
          JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
        ]),
      )
    }
    return out
  }

  function digest(snapshot: Record<string, Map<string, string>>): string {
    const hash = createHash('sha256')
    for (const [table, rows] of Object.entries(snapshot)) {
      for (const [id, row] of rows) hash.update(`${table}\n${id}\n${row}\n`)
    }
    return hash.digest('hex')
  }

  /** The outbox's next sequence number: how many effects were ever written (delivered rows are deleted). */
  async function outboxWritten(): Promise<number> {
    const [status] = (await db.prisma.$queryRawUnsafe(
      `SHOW TABLE STATUS LIKE '${names.outboxTable}'`,
    )) as Row[]
    return Number(status?.Auto_increment ?? 0)
  }

  const raw = (request: RawRequest): Promise<RawResponse> => sendRaw(port, request, DEADLINE_MS)

  const patch = (id: string, body: string | Buffer, type = 'application/json'): Promise<RawResponse> =>
    raw({
      method: 'PATCH',
      target: `/invoices/${id}`,
      headers: [['Content-Type', type]],
      body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    })

  beforeAll(async () => {
    ;({ addresses, names, db, sql, dispose } = await provisionDataset('input', INVOICES))
    const { startApp } = await import('../../src/bootstrap.ts')
    const started = await startApp(addresses, { logger: false })
    app = started.app
    port = Number(new URL(started.url).port)
  })

  afterAll(async () => {
    await app?.close()
    await dispose?.()
  })

  const invalidUtf8Body = Buffer.concat([
    Buffer.from('{"description":"caf'),
    Buffer.from([0xc3, 0x20, 0xff]),
    Buffer.from('"}'),
  ])

  // [what, request, status, parameter named by the answer (null: refused by Node's HTTP parser, no body)]
  const cases: Array<[string, () => Promise<RawResponse>, number, string | null | undefined]> = [
    ['?q=a&q=b on /search', () => raw({ method: 'GET', target: '/search?q=a&q=b', headers: [] }), 400, 'q'],
    [
      '?q=a&q=b on /autocomplete',
      () => raw({ method: 'GET', target: '/autocomplete?q=a&q=b', headers: [] }),
      400,
      'q',
    ],
    [
      'a repeated size',
      () => raw({ method: 'GET', target: '/search?q=x&size=1&size=2', headers: [] }),
      400,
      'size',
    ],
    [
      'q[x]= (a nested name)',
      () => raw({ method: 'GET', target: '/search?q[x]=1', headers: [] }),
      400,
      'q[x]',
    ],
    [
      'an undeclared parameter',
      () => raw({ method: 'GET', target: '/search?q=x&stauts=paid', headers: [] }),
      400,
      'stauts',
    ],
    [
      'a parameter on /dashboard',
      () => raw({ method: 'GET', target: '/dashboard?x=1', headers: [] }),
      400,
      'x',
    ],
    ['no q', () => raw({ method: 'GET', target: '/search', headers: [] }), 400, 'q'],
    ['q of blanks', () => raw({ method: 'GET', target: '/search?q=%20%20', headers: [] }), 400, 'q'],
    [
      'q of 201 characters',
      () => raw({ method: 'GET', target: `/search?q=${'a'.repeat(201)}`, headers: [] }),
      400,
      'q',
    ],
    ['q with a NUL', () => raw({ method: 'GET', target: '/search?q=a%00b', headers: [] }), 400, 'q'],
    ['q of invalid UTF-8', () => raw({ method: 'GET', target: '/search?q=caf%C3', headers: [] }), 400, 'url'],
    [
      'q of an overlong UTF-8 slash',
      () => raw({ method: 'GET', target: '/search?q=%C0%AF', headers: [] }),
      400,
      'url',
    ],
    [
      'q of a UTF-8 surrogate',
      () => raw({ method: 'GET', target: '/autocomplete?q=%ED%A0%80', headers: [] }),
      400,
      'url',
    ],
    [
      'a broken percent-escape',
      () => raw({ method: 'GET', target: '/search?q=100%', headers: [] }),
      400,
      'url',
    ],
    [
      'raw non-ASCII bytes in the URL',
      () => raw({ method: 'GET', target: '/search?q=caf\u00c3\u00a9', headers: [] }),
      400,
      null,
    ],
    ['a raw space in the URL', () => raw({ method: 'GET', target: '/search?q=a b', headers: [] }), 400, null],
    ['size 0', () => raw({ method: 'GET', target: '/search?q=x&size=0', headers: [] }), 400, 'size'],
    [
      'size 1.0',
      () => raw({ method: 'GET', target: '/autocomplete?q=x&size=1.0', headers: [] }),
      400,
      'size',
    ],
    [
      'an unknown status',
      () => raw({ method: 'GET', target: '/search?q=x&status=lost', headers: [] }),
      400,
      'status',
    ],
    [
      'id 2^63',
      () => raw({ method: 'GET', target: '/invoices/9223372036854775808', headers: [] }),
      400,
      'id',
    ],
    [
      'id 2^63 - 1',
      () => raw({ method: 'GET', target: '/invoices/9223372036854775807', headers: [] }),
      400,
      'id',
    ],
    [
      'id 2^31 (past INT)',
      () => raw({ method: 'GET', target: '/invoices/2147483648', headers: [] }),
      400,
      'id',
    ],
    ['id 0', () => raw({ method: 'GET', target: '/invoices/0', headers: [] }), 400, 'id'],
    ['id -1', () => raw({ method: 'GET', target: '/invoices/-1', headers: [] }), 400, 'id'],
    ['id 007', () => raw({ method: 'GET', target: '/invoices/007', headers: [] }), 400, 'id'],
    ['id 1e3', () => raw({ method: 'GET', target: '/invoices/1e3', headers: [] }), 400, 'id'],
    [
      'id 2^31 - 1 (no such invoice)',
      () => raw({ method: 'GET', target: '/invoices/2147483647', headers: [] }),
      404,
      undefined,
    ],
    ['PATCH id 2^63', () => patch('9223372036854775808', '{"status":"paid"}'), 400, 'id'],
    [
      'month 0000-01',
      () => raw({ method: 'GET', target: '/reports/monthly?from=0000-01', headers: [] }),
      400,
      'from',
    ],
    [
      'month 2026-13',
      () => raw({ method: 'GET', target: '/reports/monthly?to=2026-13', headers: [] }),
      400,
      'to',
    ],
    [
      'from after to',
      () => raw({ method: 'GET', target: '/reports/monthly?from=2026-02&to=2026-01', headers: [] }),
      400,
      'from',
    ],
    [
      'a repeated from',
      () => raw({ method: 'GET', target: '/reports/monthly?from=2025-01&from=2025-02', headers: [] }),
      400,
      'from',
    ],
    ['dueAt 2025-02-30', () => patch('5', '{"dueAt":"2025-02-30"}'), 400, 'dueAt'],
    ['dueAt 2023-02-29', () => patch('5', '{"dueAt":"2023-02-29"}'), 400, 'dueAt'],
    ['dueAt 0000-01-01', () => patch('5', '{"dueAt":"0000-01-01"}'), 400, 'dueAt'],
    ['dueAt 0999-12-31', () => patch('5', '{"dueAt":"0999-12-31"}'), 400, 'dueAt'],
    ['dueAt 10000-01-01', () => patch('5', '{"dueAt":"10000-01-01"}'), 400, 'dueAt'],
    ['dueAt as a timestamp', () => patch('5', '{"dueAt":"2025-01-01T00:00:00Z"}'), 400, 'dueAt'],
    ['dueAt as a number', () => patch('5', '{"dueAt":20250101}'), 400, 'dueAt'],
    ['a body of invalid UTF-8', () => patch('5', invalidUtf8Body), 400, 'body'],
    ['a lone surrogate (\\ud800)', () => patch('5', '{"description":"a\\ud800b"}'), 400, 'description'],
    ['a control character', () => patch('5', '{"description":"a\\u0007b"}'), 400, 'description'],
    ['a line break in the description', () => patch('5', '{"description":"a\\nb"}'), 400, 'description'],
    [
      'a description of 501 characters',
      () => patch('5', JSON.stringify({ description: 'a'.repeat(501) })),
      400,
      'description',
    ],
    ['a repeated key', () => patch('5', '{"status":"paid","status":"draft"}'), 400, 'status'],
    ['a repeated nested key', () => patch('5', '{"status":"paid","x":{"a":1,"a":2}}'), 400, 'a'],
    ['an unknown field', () => patch('5', '{"status":"paid","total":1}'), 400, 'total'],
    ['__proto__', () => patch('5', '{"__proto__":{"status":"paid"}}'), 400, '__proto__'],
    ['a status of the wrong type', () => patch('5', '{"status":["paid"]}'), 400, 'status'],
    ['an array body', () => patch('5', '[]'), 400, 'body'],
    ['an empty object', () => patch('5', '{}'), 400, 'body'],
    ['malformed JSON', () => patch('5', '{"status":'), 400, undefined],
    ['a text/plain body', () => patch('5', '{"status":"paid"}', 'text/plain'), 415, undefined],
    [
      'a Latin-1 charset',
      () => patch('5', '{"status":"paid"}', 'application/json; charset=latin1'),
      415,
      undefined,
    ],
    ['a 200 KB body', () => patch('5', JSON.stringify({ description: 'a'.repeat(200_000) })), 413, undefined],
  ]

  it('refuses each bad input with its status and names the parameter; the database is unchanged', async () => {
    const before = digest(await tables())
    const written = await outboxWritten()
    const wrong: string[] = []
    for (const [what, send, status, parameter] of cases) {
      const response = await send()
      if (parameter === null) {
        if (response.status !== status) wrong.push(`${what}: ${response.status} (expected ${status})`)
        continue
      }
      const answer = JSON.parse(responseBody(response).toString('utf8') || 'null') as {
        parameter?: string
        message?: string
      } | null
      if (response.status !== status || (parameter !== undefined && answer?.parameter !== parameter)) {
        wrong.push(
          `${what}: ${response.status} ${JSON.stringify(answer)} (expected ${status} naming ${parameter})`,
        )
      }
      if (status === 400 && typeof answer?.message !== 'string') wrong.push(`${what}: no message`)
    }
    console.log(
      `[input] ${cases.length} bad inputs sent, ${cases.length - wrong.length} answered as expected`,
    )
    expect(wrong).toEqual([])
    expect(digest(await tables())).toBe(before)
    expect(await outboxWritten()).toBe(written)
  })

  it('accepts what is valid: real dates at both ends of DATE, a leap day, any Unicode text', async () => {
    for (const [body, check] of [
      ['{"dueAt":"2024-02-29"}', { dueAt: '2024-02-29' }],
      ['{"dueAt":"1000-01-01"}', { dueAt: '1000-01-01' }],
      [
        '{"dueAt":"9999-12-31","description":"  Reparación ✓ 😀 in 東京  "}',
        { dueAt: '9999-12-31', description: 'Reparación ✓ 😀 in 東京' },
      ],
      [JSON.stringify({ description: '😀'.repeat(250) }), { description: '😀'.repeat(250) }],
    ] as const) {
      const response = await patch('6', body)
      expect(response.status, body).toBe(200)
      expect(JSON.parse(responseBody(response).toString('utf8'))).toMatchObject(check)
      const [row] = (await db.prisma.$queryRawUnsafe(
        'SELECT DATE_FORMAT(due_at, "%Y-%m-%d") AS dueAt, description FROM invoices WHERE id = 6',
      )) as Array<{ dueAt: string; description: string }>
      expect(row).toMatchObject(check)
    }
    const search = await raw({
      method: 'GET',
      target: `/search?q=${encodeURIComponent('climatización')}&size=3`,
      headers: [],
    })
    expect(search.status).toBe(200)
    const month = await raw({
      method: 'GET',
      target: '/reports/monthly?from=1000-01&to=9999-12',
      headers: [],
    })
    expect(month.status).toBe(200)
  })

  it(`fuzz: ${REQUESTS} random and adversarial requests, no 5xx, none unanswered, nothing half-written`, async () => {
    const before = await tables()
    const versions = new Map(
      [...(before.invoices as Map<string, string>)].map(([id, row]) => [
        id,
        (JSON.parse(row) as { version: number }).version,
      ]),
    )
    const writtenBefore = await outboxWritten()
    // One write's effects (search document, Kafka event, cache tags), measured on the way.
    const calibration = await patch('1', '{"status":"paid"}')
    expect(calibration.status).toBe(200)
    const perWrite = (await outboxWritten()) - writtenBefore
    expect(perWrite).toBeGreaterThan(0)
    const accepted = new Map<string, { count: number; last: InvoiceView }>([
      ['1', { count: 1, last: JSON.parse(responseBody(calibration).toString('utf8')) as InvoiceView }],
    ])

    // And one deletion, so that the accounting of deletions always runs (the fuzz may make none).
    const removal = await raw({ method: 'DELETE', target: '/invoices/2', headers: [] })
    expect(removal.status).toBe(200)
    const deleted = new Set<string>(['2'])
    const requests = fc.sample(requestArbitrary(INVOICES), { numRuns: REQUESTS, seed: SEED })
    const byStatus = new Map<string, number>()
    const byEndpoint = new Map<string, number>()
    const serverErrors: string[] = []
    const unanswered: string[] = []
    const closed: string[] = []
    let healthDown = 0
    let slowest = 0
    const show = (r: RawRequest) =>
      `${r.method} ${JSON.stringify(r.target.slice(0, 120))} ${JSON.stringify(r.headers.map(([n, v]) => `${n}: ${v.slice(0, 40)}`))} body ${r.body?.subarray(0, 80).toString('latin1') ?? '-'}`
    let next = 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length) {
          const request = requests[next++] as RawRequest
          const response = await raw(request)
          slowest = Math.max(slowest, response.ms)
          const endpoint =
            /^\/(invoices|clients|search|autocomplete|reports|dashboard|health|metrics)\b/.exec(
              request.target,
            )?.[1] ?? 'other'
          byEndpoint.set(endpoint, (byEndpoint.get(endpoint) ?? 0) + 1)
          const key = response.status === null ? `none (${response.failure})` : String(response.status)
          byStatus.set(key, (byStatus.get(key) ?? 0) + 1)
          if (response.status === null) {
            if (response.failure === 'deadline') unanswered.push(show(request))
            else closed.push(show(request))
          } else if (response.status >= 500) {
            if (response.status === 503 && request.target.startsWith('/health')) healthDown++
            else
              serverErrors.push(
                `${response.status} ${show(request)}: ${responseBody(response).toString('utf8').slice(0, 200)}`,
              )
          }
          // The id from the answer: `/invoices/%31` and `/invoices/1/` are invoice 1 too.
          if (request.method === 'DELETE' && response.status === 200) {
            deleted.add(String((JSON.parse(responseBody(response).toString('utf8')) as { id: number }).id))
          }
          if (request.method === 'PATCH' && response.status === 200) {
            const view = JSON.parse(responseBody(response).toString('utf8')) as InvoiceView
            const id = String(view.id)
            const entry = accepted.get(id) ?? { count: 0, last: view }
            entry.count++
            if (view.version >= entry.last.version) entry.last = view
            accepted.set(id, entry)
          }
        }
      }),
    )
    const seconds = (performance.now() - started) / 1_000
    const statuses = [...byStatus].sort(([a], [b]) => a.localeCompare(b)).map(([s, n]) => `${s}: ${n}`)
    const patches = [...accepted.values()].reduce((sum, entry) => sum + entry.count, 0)

    // The database holds exactly what the accepted PATCHes and DELETEs wrote.
    const after = await tables()
    const differing: string[] = []
    const gone = (table: string, row: string) =>
      (table === 'invoices' && deleted.has(String((JSON.parse(row) as { id: number }).id))) ||
      (table === 'invoice_lines' &&
        deleted.has(String((JSON.parse(row) as { invoice_id: number }).invoice_id)))
    for (const [table, rows] of Object.entries(before)) {
      const now = after[table] as Map<string, string>
      const expected = [...rows.values()].filter((row) => !gone(table, row)).length
      if (now.size !== expected) differing.push(`${table}: ${expected} rows expected, ${now.size} there`)
      for (const [id, row] of rows) {
        if (gone(table, row)) {
          if (now.has(id)) differing.push(`${table} ${id}: deleted, still there`)
          continue
        }
        if (table === 'invoices' && accepted.has(id)) continue
        if (now.get(id) !== row) differing.push(`${table} ${id}`)
      }
    }
    for (const [id, { count, last }] of accepted) {
      if (deleted.has(id)) continue
      const row = JSON.parse((after.invoices as Map<string, string>).get(id) ?? '{}') as { version: number }
      if (row.version !== (versions.get(id) ?? 0) + count) {
        differing.push(
          `invoice ${id}: version ${row.version}, expected ${versions.get(id)} + ${count} accepted`,
        )
      }
      const truth = await sql.sqlInvoice(db.prisma, Number(id))
      if (!isDeepStrictEqual(truth, last))
        differing.push(`invoice ${id}: row differs from its last accepted answer`)
    }
    // Every connection the fuzz opened is closed by the server too (none left waiting for bytes).
    const server = app?.getHttpServer() as Server
    const connections = () => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)))
    let open = await connections()
    for (let i = 0; i < 100 && open > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      open = await connections()
    }
    const outbox = (await outboxWritten()) - writtenBefore
    // Every invoice served afterwards (L1, L2 or the database) equals its row.
    let stale = 0
    for (let id = 1; id <= INVOICES; id++) {
      const served = await raw({ method: 'GET', target: `/invoices/${id}`, headers: [] })
      const truth = await sql.sqlInvoice(db.prisma, id)
      if (truth === null) {
        if (served.status !== 404 || !deleted.has(String(id))) stale++
      } else if (
        served.status !== 200 ||
        !isDeepStrictEqual(JSON.parse(responseBody(served).toString('utf8')), truth)
      )
        stale++
    }

    const endpoints = [...byEndpoint].map(([e, n]) => `${e}: ${n}`)
    console.log(
      `[fuzz] seed ${SEED}: ${requests.length} requests in ${seconds.toFixed(1)} s (${CONCURRENCY} at a time), slowest ${Math.round(slowest)} ms; ` +
        `by endpoint { ${endpoints.join(', ')} }; ` +
        `statuses { ${statuses.join(', ')} }; 5xx ${serverErrors.length} (+ /health 503: ${healthDown}); ` +
        `unanswered within ${DEADLINE_MS / 1_000} s: ${unanswered.length}; closed without an answer: ${closed.length}; ` +
        `connections left open: ${open}; accepted PATCHes ${patches} on ${accepted.size} invoices, DELETEs ${deleted.size}; ` +
        `outbox effects ${outbox} (= ${perWrite} x ${outbox / perWrite}); rows changed by refused requests ${differing.length}; ` +
        `invoices served unequal to their row ${stale} of ${INVOICES}`,
    )
    expect(serverErrors.slice(0, 10)).toEqual([])
    expect(unanswered.slice(0, 10)).toEqual([])
    // Closed without a status line (what Node does to a CONNECT nobody handles).
    expect(closed.slice(0, 10)).toEqual([])
    expect(open).toBe(0)
    expect(differing.slice(0, 10)).toEqual([])
    expect(outbox).toBe(perWrite * (patches + deleted.size))
    expect(stale).toBe(0)
  }, 600_000)
})
