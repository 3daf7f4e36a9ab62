/**
 * The endpoints of the end-to-end table, as this API offers them: for each one the served path
 * and its SQL path, which is the API's own `?source=db` form when it has one (same process, same
 * framework, the same figures recomputed in SQL) and otherwise the SQL reference server's
 * (`sql-server.ts`). Each pair is checked before it is measured: the served answer must equal
 * SQL's (the dashboard's and the report's figures, the invoice, the search count), or the table
 * is not printed.
 *
 * An endpoint the API does not serve yet (answering 404) is left out with a note, so the table
 * grows with the API instead of failing.
 */
import { isDeepStrictEqual } from 'node:util'
import type { Target } from './measure.ts'

/** What the targets are built from. */
export interface TargetOptions {
  appUrl: string
  sqlUrl: string
  /** Invoices in the dataset (ids 1..invoices). */
  invoices: number
}

/** The search of the table: two words, accents left out, as users type them. */
export const SEARCH_TEXT = 'climatizacion urgente'
/** The type-ahead of the table: a word and the start of the next. */
export const AUTOCOMPLETE_TEXT = 'consultoria trib'

async function get(url: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url)
  const text = await response.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // Not JSON (an HTML error page): kept as text for the message.
  }
  return { status: response.status, body }
}

const withSource = (path: string) => `${path}${path.includes('?') ? '&' : '?'}source=db`

/** A rotation over `list`, one element per call. */
function rotation(list: readonly string[]): () => string {
  let i = 0
  return () => list[i++ % list.length] as string
}

function fail(message: string): never {
  throw new Error(`e2e check failed: ${message}`)
}

/**
 * The SQL path of `path`: the app's `?source=db` when it answers 200 and `same(served, sql)`,
 * else the reference server's when it answers 200; undefined when neither does.
 */
async function sqlPathOf(
  options: TargetOptions,
  path: string,
  served: unknown,
  same: (served: unknown, sql: unknown) => string | undefined,
): Promise<Target['sql']> {
  const onApp = await get(`${options.appUrl}${withSource(path)}`)
  if (onApp.status === 200) {
    const problem = same(served, onApp.body)
    if (problem !== undefined) fail(`${withSource(path)}: ${problem}`)
    return { url: options.appUrl, path: withSource(path), via: '?source=db', onApp: true }
  }
  const reference = await get(`${options.sqlUrl}${path}`)
  if (reference.status !== 200) return undefined
  const problem = same(served, reference.body)
  if (problem !== undefined) fail(`${path} against the SQL reference server: ${problem}`)
  return { url: options.sqlUrl, path, via: 'SQL reference server', onApp: false }
}

/** The figures a reference answer holds equal the served ones (the served may hold more). */
function sameFigures(served: unknown, sql: unknown): string | undefined {
  const a = (served as { figures?: Record<string, unknown> }).figures ?? {}
  const b = (sql as { figures?: Record<string, unknown> }).figures ?? {}
  for (const [name, value] of Object.entries(b)) {
    if (!isDeepStrictEqual(a[name], value))
      return `figure ${name}: served ${JSON.stringify(a[name])}, SQL ${JSON.stringify(value)}`
  }
  return Object.keys(b).length === 0 ? 'SQL answered no figures' : undefined
}

const sameBody = (served: unknown, sql: unknown) =>
  isDeepStrictEqual(served, sql) ? undefined : 'bodies differ'

/** The endpoints to measure, each checked; the served paths must answer 200 (or 404: left out). */
export async function buildTargets(options: TargetOptions): Promise<Target[]> {
  const { appUrl, invoices } = options
  const targets: Target[] = []

  // Dashboard: the SQL figures must be the served ones (the aggregator has caught up).
  const dashboard = await get(`${appUrl}/dashboard`)
  if (dashboard.status !== 200) fail(`GET /dashboard answered ${dashboard.status}`)
  targets.push({
    name: 'dashboard',
    route: '/dashboard',
    served: '/dashboard',
    sql: await sqlPathOf(options, '/dashboard', dashboard.body, sameFigures),
  })

  // Search: the same number of matches.
  const searchPath = `/search?q=${encodeURIComponent(SEARCH_TEXT)}`
  const search = await get(`${appUrl}${searchPath}`)
  if (search.status !== 200) fail(`GET ${searchPath} answered ${search.status}`)
  const total = (body: unknown) => (body as { total?: number | { value: number } }).total
  const count = (body: unknown) => {
    const t = total(body)
    return typeof t === 'object' ? t.value : t
  }
  targets.push({
    name: `search "${SEARCH_TEXT}"`,
    route: '/search',
    served: searchPath,
    engine: true,
    sql: await sqlPathOf(options, searchPath, search.body, (served, sql) =>
      count(served) === count(sql) && (count(served) ?? 0) > 0
        ? undefined
        : `${count(served)} matches served, ${count(sql)} in SQL`,
    ),
  })

  // One invoice: 200 ids spread over the table, each read once first (the served run reads
  // cached invoices, as a user reopening them does); each equal to SQL's row.
  const ids = Array.from({ length: 200 }, (_, i) => 1 + ((i * 4_999) % invoices))
  for (const id of ids) await get(`${appUrl}/invoices/${id}`)
  const first = await get(`${appUrl}/invoices/${ids[0]}`)
  targets.push({
    name: 'one invoice (cached)',
    route: '/invoices/:id',
    served: rotation(ids.map((id) => `/invoices/${id}`)),
    sql: await (async () => {
      const sql = await sqlPathOf(options, `/invoices/${ids[0]}`, first.body, sameBody)
      if (sql === undefined) return undefined
      const base = sql.onApp
        ? (id: number) => withSource(`/invoices/${id}`)
        : (id: number) => `/invoices/${id}`
      return { ...sql, path: rotation(ids.map(base)) }
    })(),
  })

  // The monthly report: `?year=` when the API has it, else every month (from/to).
  for (const path of ['/reports/monthly?year=2026', '/reports/monthly']) {
    const report = await get(`${appUrl}${path}`)
    if (report.status !== 200) continue
    targets.push({
      name: 'monthly report',
      route: '/reports/monthly',
      served: path,
      sql: await sqlPathOf(options, path, report.body, sameBody),
    })
    break
  }

  // A list page: when the API has one.
  const list = await get(`${appUrl}/invoices?limit=20`)
  if (list.status === 200) {
    targets.push({
      name: 'list page (20)',
      route: '/invoices',
      served: '/invoices?limit=20',
      sql: await sqlPathOf(options, '/invoices?limit=20', list.body, sameBody),
    })
  } else {
    targets.push({
      name: 'list page',
      route: '/invoices',
      served: undefined,
      sql: undefined,
      note: `not measured: GET /invoices?limit=20 answered ${list.status} (no list endpoint in this API yet)`,
    })
  }

  // Autocomplete: the served suggestions exist; SQL's are its first 8 matches.
  const typedPath = `/autocomplete?q=${encodeURIComponent(AUTOCOMPLETE_TEXT)}`
  const typed = await get(`${appUrl}${typedPath}`)
  if (typed.status !== 200) fail(`GET ${typedPath} answered ${typed.status}`)
  targets.push({
    name: `autocomplete "${AUTOCOMPLETE_TEXT}"`,
    route: '/autocomplete',
    served: typedPath,
    engine: true,
    sql: await sqlPathOf(options, typedPath, typed.body, (served) =>
      ((served as { hits?: unknown[] }).hits?.length ?? 0) > 0 ? undefined : 'no suggestion served',
    ),
  })
  return targets
}
