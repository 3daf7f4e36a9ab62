/**
 * The end-to-end table: each endpoint's served path and its SQL path under concurrent load over
 * HTTP on loopback (autocannon, 1 and 32 connections, keep-alive, no pipelining), with p50, p99
 * and requests per second of each, the served/SQL ratios, the in-process cost the app's
 * performance interceptor measured during the same run, and, for the search, the engine's own
 * time.
 *
 * - Latencies are every 2xx response's own time as autocannon reports it (request written to
 *   response read, in ms with microseconds), collected here; the percentiles are exact over those
 *   samples (no histogram, no coordinated-omission correction). Non-2xx answers and client errors
 *   (timeouts, resets) are counted, never timed.
 * - A path answering in more than `duration / minSamples` (a SQL scan at a million rows: seconds)
 *   is not run for a duration, which would give a handful of samples and cut the slowest ones:
 *   with 1 connection it gets `slowSamples` requests, with 32 one request per connection (all 32
 *   at once), and a timeout long enough for all of them. The samples column says how many there
 *   were.
 * - In-process cost: the delta of `ayala_http_request_duration_seconds` (the interceptor's
 *   histogram) for the route over the run: its mean (sum / count, exact) and its p99 from the
 *   buckets (`histogram_quantile`: as coarse as the buckets, the first of which is 1 ms).
 * - Engine time of the search: the delta of the index's search statistics over the run (query and
 *   fetch time per query, the shard's own clock; one shard), the mean `took` less the
 *   coordination.
 */
import type { SearchClient } from '@ayala/search'
import autocannon from 'autocannon'
import { parsePrometheusText } from '../cli/prometheus-text.ts'
import type { MeasureOptions, RunFigures, TargetFigures } from './figures.ts'

export type { MeasureOptions, RunFigures, TargetFigures }

/** One endpoint of the table. */
export interface Target {
  /** Row label, e.g. `dashboard`. */
  name: string
  /** The interceptor's route label, e.g. `/invoices/:id`. */
  route: string
  /** Served path on the app: a fixed path, or the next path of a rotation; undefined: not measured (see `note`). */
  served: string | (() => string) | undefined
  /** The SQL path: its base URL, path and what it is (`?source=db`, `SQL reference server`). */
  sql: { url: string; path: string | (() => string); via: string; onApp: boolean } | undefined
  /** Read the engine's search statistics around the served run. */
  engine?: boolean | undefined
  /** Why the row has no SQL path or is left out. */
  note?: string | undefined
}

const next = (path: string | (() => string)) => (typeof path === 'string' ? path : path())

/** Exact percentile `q` of ascending `sorted`. */
function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number
}

interface RouteHistogram {
  count: number
  sum: number
  buckets: Array<{ le: number; n: number }>
}

/** The interceptor's histogram of `route` (GET, 200) from `/metrics`. */
async function routeHistogram(appUrl: string, route: string): Promise<RouteHistogram> {
  const text = await (await fetch(`${appUrl}/metrics`)).text()
  const mine = parsePrometheusText(text).filter(
    (s) => s.labels.route === route && s.labels.method === 'GET' && s.labels.status_code === '200',
  )
  const one = (name: string) => mine.find((s) => s.name === name)?.value ?? 0
  return {
    count: one('ayala_http_request_duration_seconds_count'),
    sum: one('ayala_http_request_duration_seconds_sum'),
    buckets: mine
      .filter((s) => s.name === 'ayala_http_request_duration_seconds_bucket')
      .map((s) => ({
        le: s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le),
        n: s.value,
      }))
      .sort((a, b) => a.le - b.le),
  }
}

/** Mean and bucketed p99 (seconds -> ms) of the observations between two readings. */
function histogramDelta(before: RouteHistogram, after: RouteHistogram): { meanMs: number; p99Ms: number } {
  const count = after.count - before.count
  if (count <= 0) return { meanMs: Number.NaN, p99Ms: Number.NaN }
  const buckets = after.buckets.map((b) => ({
    le: b.le,
    n: b.n - (before.buckets.find((x) => x.le === b.le)?.n ?? 0),
  }))
  // histogram_quantile: linear within the bucket holding the rank.
  const rank = 0.99 * count
  let lower = 0
  let below = 0
  let p99 = Number.NaN
  for (const { le, n } of buckets) {
    if (n >= rank) {
      p99 = le === Number.POSITIVE_INFINITY ? lower : lower + ((le - lower) * (rank - below)) / (n - below)
      break
    }
    lower = le
    below = n
  }
  return { meanMs: ((after.sum - before.sum) / count) * 1_000, p99Ms: p99 * 1_000 }
}

/** One autocannon run of `path` at `connections`, for `durationS` or for `amount` requests. */
async function load(
  url: string,
  path: string | (() => string),
  connections: number,
  limit: { durationS: number } | { amount: number; timeoutS: number },
): Promise<Omit<RunFigures, 'connections'>> {
  const latencies: number[] = []
  let non2xx = 0
  const statuses: Record<string, number> = {}
  let errors = 0
  const started = performance.now()
  const settings: autocannon.Options = {
    url: `${url}${next(path)}`,
    connections,
    pipelining: 1,
    ...('amount' in limit
      ? { amount: limit.amount, timeout: limit.timeoutS }
      : { duration: limit.durationS, timeout: 30 }),
  }
  if (typeof path !== 'string')
    settings.requests = [{ setupRequest: (request) => ({ ...request, path: path() }) }]
  let finish: (error: Error | null) => void = () => undefined
  const finished = new Promise<void>((resolve, reject) => {
    finish = (error) => (error === null ? resolve() : reject(error))
  })
  const instance = autocannon(settings, (error) => finish(error ?? null))
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime)
    else {
      non2xx++
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1
    }
  })
  instance.on('reqError', () => {
    errors++
  })
  await finished
  const seconds = (performance.now() - started) / 1_000
  latencies.sort((a, b) => a - b)
  return {
    samples: latencies.length,
    seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    requestsPerSecond: latencies.length / seconds,
    non2xx,
    statuses,
    errors,
  }
}

/** Time one request of `path` (after one to warm the connection and the path). */
async function probe(url: string, path: string | (() => string)): Promise<number> {
  await (await fetch(`${url}${next(path)}`)).arrayBuffer()
  const started = performance.now()
  await (await fetch(`${url}${next(path)}`)).arrayBuffer()
  return performance.now() - started
}

/** Run every target's served and SQL paths at every connection count, one run at a time. */
export async function measureTargets(
  targets: readonly Target[],
  options: MeasureOptions,
): Promise<TargetFigures[]> {
  const log = options.log ?? (() => undefined)
  const minSamples = options.minSamples ?? 20
  const slowSamples = options.slowSamples ?? 5
  const results: TargetFigures[] = []
  for (const target of targets) {
    const figures: TargetFigures = {
      name: target.name,
      route: target.route,
      sqlVia: target.sql?.via,
      note: target.note,
      served: [],
      sql: [],
    }
    results.push(figures)
    if (target.served === undefined) {
      log(`${target.name}: ${target.note ?? 'not measured'}`)
      continue
    }
    const paths: Array<['served' | 'sql', string, string | (() => string), boolean]> = [
      ['served', options.appUrl, target.served, true],
    ]
    if (target.sql !== undefined) paths.push(['sql', target.sql.url, target.sql.path, target.sql.onApp])
    for (const [kind, url, path, onApp] of paths) {
      const oneMs = await probe(url, path)
      const slow = oneMs * minSamples > options.durationS * 1_000
      for (const connections of options.connections) {
        const limit = slow
          ? {
              amount: connections === 1 ? slowSamples : connections,
              // Every request may wait for all the others (2 cores): room for all of them, twice.
              timeoutS: Math.ceil((oneMs / 1_000) * Math.max(slowSamples, connections) * 2) + 30,
            }
          : { durationS: options.durationS }
        const histogramBefore = onApp ? await routeHistogram(options.appUrl, target.route) : undefined
        const engineBefore = kind === 'served' && target.engine ? await options.engineStats?.() : undefined
        const run = await load(url, path, connections, limit)
        const row: RunFigures = { connections, ...run }
        if (histogramBefore !== undefined) {
          const delta = histogramDelta(histogramBefore, await routeHistogram(options.appUrl, target.route))
          row.inProcessMeanMs = delta.meanMs
          row.inProcessP99Ms = delta.p99Ms
        }
        if (engineBefore !== undefined) {
          const after = await options.engineStats?.()
          if (after !== undefined && after.queries > engineBefore.queries)
            row.engineMs = (after.ms - engineBefore.ms) / (after.queries - engineBefore.queries)
        }
        figures[kind].push(row)
        log(
          `${target.name} ${kind}${kind === 'sql' ? ` (${target.sql?.via})` : ''} c=${connections}: ` +
            `p50 ${ms(row.p50Ms)} p99 ${ms(row.p99Ms)} ${Math.round(row.requestsPerSecond)} req/s, ` +
            `${row.samples} samples in ${row.seconds.toFixed(1)} s${row.non2xx + row.errors > 0 ? `, ${row.non2xx} non-2xx, ${row.errors} errors` : ''}`,
        )
      }
    }
  }
  return results
}

/** The index's search statistics (primaries): queries so far and their query + fetch milliseconds. */
export async function indexSearchStats(
  search: SearchClient,
  index: string,
): Promise<{ queries: number; ms: number }> {
  const raw = await search.raw()
  const stats = (await raw.indices.stats({ index, metric: 'search' })) as {
    _all: {
      primaries: {
        search?: { query_total: number; query_time_in_millis: number; fetch_time_in_millis: number }
      }
    }
  }
  const s = stats._all.primaries.search
  return { queries: s?.query_total ?? 0, ms: (s?.query_time_in_millis ?? 0) + (s?.fetch_time_in_millis ?? 0) }
}

/** A duration in ms as text: `0.42 ms`, `12.3 ms`, `18.2 s`. */
export function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '-'
  if (value >= 1_000) return `${(value / 1_000).toFixed(value >= 10_000 ? 1 : 2)} s`
  if (value >= 10) return `${value.toFixed(1)} ms`
  return `${value.toFixed(2)} ms`
}

/** A run's non-2xx answers and client errors: `0`, `28 x 503`, `3 client errors`. */
function failures(run: RunFigures | undefined): string {
  if (run === undefined) return '-'
  const parts = Object.entries(run.statuses).map(([status, n]) => `${n} x ${status}`)
  if (run.errors > 0) parts.push(`${run.errors} client errors`)
  return parts.length === 0 ? '0' : parts.join(', ')
}

function ratio(value: number): string {
  if (!Number.isFinite(value)) return '-'
  return value >= 100
    ? `${Math.round(value).toLocaleString('en')}x`
    : `${value.toFixed(value >= 10 ? 0 : 1)}x`
}

/** The markdown table of {@link measureTargets}' figures. */
export function markdownTable(results: readonly TargetFigures[]): string {
  const lines = [
    '| endpoint | conns | SQL p50 | SQL p99 | SQL req/s | served p50 | served p99 | served req/s | p50 SQL/served | req/s served/SQL | in-process mean (p99) | non-2xx served / SQL |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const result of results) {
    const rows = Math.max(result.served.length, result.sql.length)
    for (let i = 0; i < rows; i++) {
      const served = result.served[i]
      const sql = result.sql[i]
      const engine = served?.engineMs === undefined ? '' : `; engine ${ms(served.engineMs)}`
      const errors = `${failures(served)} / ${failures(sql)}`
      const sqlSamples = sql !== undefined && sql.samples < 100 ? ` (n=${sql.samples})` : ''
      lines.push(
        `| ${result.name}${i === 0 && result.sqlVia ? ` (SQL: ${result.sqlVia})` : ''} | ${served?.connections ?? sql?.connections} | ${ms(sql?.p50Ms)} | ${ms(sql?.p99Ms)}${sqlSamples} | ${sql ? sql.requestsPerSecond.toFixed(sql.requestsPerSecond < 10 ? 2 : 0) : '-'} | ` +
          `${ms(served?.p50Ms)} | ${ms(served?.p99Ms)} | ${served ? Math.round(served.requestsPerSecond).toLocaleString('en') : '-'} | ` +
          `${ratio((sql?.p50Ms ?? Number.NaN) / (served?.p50Ms ?? Number.NaN))} | ${ratio((served?.requestsPerSecond ?? Number.NaN) / (sql?.requestsPerSecond ?? Number.NaN))} | ` +
          `${ms(served?.inProcessMeanMs)} (${ms(served?.inProcessP99Ms)})${engine} | ${errors} |`,
      )
    }
    if (result.note) lines.push(`| ${result.name}: ${result.note} | | | | | | | | | | | |`)
  }
  return lines.join('\n')
}
