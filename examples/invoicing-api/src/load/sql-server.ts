/**
 * The SQL path of the endpoints the API has no `?source=db` for, over HTTP: a bare `node:http`
 * server answering the API's paths straight from MariaDB through Prisma, with the reference
 * queries of `cli/reference-queries.ts` (the truth the tests and the demo compare with). No
 * cache, no search engine, no stream, no Nest: it is what the endpoint would cost if it asked
 * SQL on every request, minus the framework, so a served/SQL ratio measured against it is, if
 * anything, kind to SQL.
 *
 * | path | answers |
 * |---|---|
 * | `GET /invoices/:id` | `sqlInvoice` (the row and its lines; 404 when missing) |
 * | `GET /search?q=` | `sqlSearch`: the count and the newest 20 ids (`LIKE '%word%'` on three tables) |
 * | `GET /autocomplete?q=` | `sqlAutocomplete`, 8 ids |
 * | `GET /dashboard` | `{ figures: sqlDashboard }` |
 * | `GET /reports/monthly?from=&to=` | `ReportRepository.monthlyFromSql` |
 * | `GET /invoices?limit=&status=&clientId=` | the first page, `InvoiceListRepository.read` (the list's SQL, no cache) |
 *
 * The pool has the app's size (8) and none of its timeouts: a slow SQL answer is measured, not
 * cut at 10 s.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { sqlAutocomplete, sqlDashboard, sqlInvoice, sqlSearch } from '../cli/reference-queries.ts'
import { type Database, openDatabase } from '../database/connection.ts'
import { InvoiceListRepository } from '../invoices/invoice-list.ts'
import { ReportRepository } from '../reports/report.repository.ts'

/** A started reference server. */
export interface SqlServer {
  url: string
  close(): Promise<void>
}

type Handler = (db: Database, query: URLSearchParams, id: number | undefined) => Promise<unknown>

const ROUTES: ReadonlyArray<[RegExp, Handler]> = [
  [
    /^\/invoices$/,
    async (db, query) => {
      // `read` is the list's SQL; the cache it is given is never used by it.
      const list = new InvoiceListRepository(db, undefined as never)
      const filters = {
        status: query.get('status') ?? undefined,
        clientId: query.has('clientId') ? Number(query.get('clientId')) : undefined,
      }
      return (await list.read(filters, undefined, Number(query.get('limit') ?? 20))).page
    },
  ],
  [/^\/invoices\/(\d+)$/, (db, _query, id) => sqlInvoice(db.prisma, id as number)],
  [/^\/search$/, (db, query) => sqlSearch(db.prisma, query.get('q') ?? '')],
  [
    /^\/autocomplete$/,
    async (db, query) => ({ ids: await sqlAutocomplete(db.prisma, query.get('q') ?? '', 8) }),
  ],
  [/^\/dashboard$/, async (db) => ({ figures: await sqlDashboard(db.prisma) })],
  [
    /^\/reports\/monthly$/,
    (db, query) =>
      new ReportRepository(db).monthlyFromSql({
        from: query.get('from') ?? '2000-01',
        to: query.get('to') ?? '2099-12',
      }),
  ],
]

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  })
  response.end(text)
}

/** Start the reference server for `databaseUrl` on 127.0.0.1:`port` (0: a free port). */
export async function startSqlServer(databaseUrl: string, port = 0): Promise<SqlServer> {
  // A request waits for a connection as long as it takes (the driver's default gives up after 10 s).
  const db = openDatabase(databaseUrl, 8, { acquireTimeout: 3_600_000 })
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://localhost')
    for (const [pattern, handler] of ROUTES) {
      const match = pattern.exec(url.pathname)
      if (match === null) continue
      if (request.method !== 'GET') return send(response, 405, { message: 'GET only' })
      const id = match[1] === undefined ? undefined : Number(match[1])
      const body = await handler(db, url.searchParams, id)
      return body === null ? send(response, 404, { message: 'not found' }) : send(response, 200, body)
    }
    send(response, 404, { message: `no SQL reference for ${url.pathname}` })
  }
  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      // A failed query is the measurement's business: answered 500 (counted as a non-2xx).
      if (!response.headersSent) send(response, 500, { message: (error as Error).message })
      else response.destroy()
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  const address = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${address.port}`,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await db.close()
    },
  }
}
