/**
 * Scenario: a bounded soak of the invoicing example. The example is seeded into a database of
 * its own (`SOAK_INVOICES` invoices: 20,000; 2,000 in `--quick` mode) and started as its own
 * process (`node --import tsx src/main.ts`, what `pnpm start` runs, with a small memory probe
 * loaded by `--import`), then every endpoint is loaded at once for `SOAK_DURATION` seconds (300;
 * 25 in `--quick` mode) with the mix of `soak/load.ts` (hot and cold invoice reads, `/search`,
 * `/autocomplete`, `/dashboard`, `/reports/monthly`, PATCHes through the outbox; ~260 req/s in
 * all, times `SOAK_RATE_SCALE`), while one SSE subscriber stays on `/dashboard/stream`.
 *
 * Every `SOAK_SAMPLE_INTERVAL` seconds (5; 2 in quick mode) the run records, per window:
 * statuses and client errors, p50/p99 per endpoint, the app's RSS, heap, CPU and event-loop delay
 * (the probe; every `SOAK_GC_INTERVAL` seconds, 60 or 10, after a full GC: the live heap), cache hits by tier and per route, outbox backlog, consumer lag (from `/metrics`),
 * `/health`'s status and the machine's load average. At the end it reports the RSS slope over the
 * second half (least squares, MB per minute), then waits for the outbox to drain and compares
 * every copy with SQL (`soak/verify.ts`): index, dashboard (and the SSE figures), cached reads,
 * reports.
 *
 * The run fails (throws, after writing its result) only when the app crashed, answered a 5xx,
 * or a copy differs from SQL; never on a timing. Two self-checks prove it can fail:
 * `SOAK_SABOTAGE=sql-write` changes five rows straight in SQL behind the app's back before the
 * checks (index, dashboard, SSE, cached reads and reports then differ), `SOAK_SABOTAGE=kill-app`
 * SIGKILLs the app halfway (a crash). Everything it created (database, index, topic, group, Redis keys) is removed
 * at the end, also on failure.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { percentile, type ResultRow, runConfig, writeResult } from '../report.js'
import { type AppProcess, freePort, type ProbeSample, startAppProcess } from '../soak/app-process.js'
import { type Example, loadExample, type PromSample, seedDataset } from '../soak/example.js'
import {
  type EndpointLoad,
  invoicingMix,
  REPORT_RANGES,
  reportPath,
  startLoad,
  type Tally,
} from '../soak/load.js'
import { type Verification, verifyCopies } from '../soak/verify.js'

const MB = 1024 * 1024

/** One sampling window. */
interface Sample {
  /** Seconds since the load started (end of the window). */
  t: number
  /** The window's length, seconds. */
  windowS: number
  requests: number
  statuses: Record<string, number>
  serverErrors: number
  clientErrors: number
  endpoints: Record<string, { n: number; p50Ms: number; p99Ms: number }>
  rssMb?: number | undefined
  heapUsedMb?: number | undefined
  /** heapUsed right after a full GC (every `SOAK_GC_INTERVAL` s): the live heap. */
  liveHeapMb?: number | undefined
  heapTotalMb?: number | undefined
  externalMb?: number | undefined
  /** The app's CPU time in the window, percent of one core. */
  appCpuPct?: number | undefined
  loopDelayP99Ms?: number | undefined
  loopDelayMaxMs?: number | undefined
  /** Cache lookups in the window (all routes), from `/metrics`. */
  cache?: { l1Hits: number; l2Hits: number; misses: number; l1Entries: number; l1Mb: number } | undefined
  /** Cache results of the window per route (`l1_hit`, `l2_hit`, `miss`...). */
  routes?: Record<string, Record<string, number>> | undefined
  outboxPending?: number | undefined
  outboxOldestS?: number | undefined
  streamLag?: number | undefined
  health?: number | string | undefined
  loadAvg1: number
}

/**
 * Files under the example and the packages that differ from the commit (the tree is shared with
 * other engineers: a run measures what was there), as `git status --porcelain` lines.
 */
function uncommitted(): string[] {
  try {
    return execFileSync('git', ['status', '--porcelain', '--', 'examples/invoicing-api', 'packages'], {
      cwd: join(import.meta.dirname, '..', '..', '..'),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .filter((line) => line.trim() !== '')
  } catch (error) {
    return [`(git status failed: ${(error as Error).message.split('\n')[0]})`]
  }
}

/** Settings of a run, from the environment and the mode. */
function settings(quick: boolean) {
  const number = (name: string, fallback: number) => {
    const value = process.env[name]
    if (value === undefined || value === '') return fallback
    const parsed = Number(value)
    if (!Number.isFinite(parsed) || parsed <= 0)
      throw new Error(`${name} must be a positive number, got "${value}"`)
    return parsed
  }
  const sabotage = process.env.SOAK_SABOTAGE || undefined
  if (sabotage !== undefined && sabotage !== 'sql-write' && sabotage !== 'kill-app')
    throw new Error(`SOAK_SABOTAGE must be "sql-write" or "kill-app", got "${sabotage}"`)
  return {
    invoices: Math.round(number('SOAK_INVOICES', quick ? 2_000 : 20_000)),
    durationS: number('SOAK_DURATION', quick ? 25 : 300),
    intervalS: number('SOAK_SAMPLE_INTERVAL', quick ? 2 : 5),
    gcIntervalS: number('SOAK_GC_INTERVAL', quick ? 10 : 60),
    scale: number('SOAK_RATE_SCALE', 1),
    sabotage,
  }
}

const sum = (values: Iterable<number>) => {
  let total = 0
  for (const value of values) total += value
  return total
}

/** Sum of the samples named `name` whose labels include `labels`. */
function metric(samples: readonly PromSample[], name: string, labels: Record<string, string> = {}): number {
  return sum(
    samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .map((s) => s.value),
  )
}

/** The figures read from one `/metrics` scrape. */
function scrapeFigures(samples: readonly PromSample[]) {
  const routes: Record<string, Record<string, number>> = {}
  for (const s of samples) {
    if (s.name !== 'ayala_http_request_cache_events_total') continue
    const route = `${s.labels.method} ${s.labels.route}`
    const result = s.labels.result ?? '?'
    routes[route] ??= {}
    ;(routes[route] as Record<string, number>)[result] =
      ((routes[route] as Record<string, number>)[result] ?? 0) + s.value
  }
  return {
    l1Hits: metric(samples, 'ayala_cache_hits_total', { tier: 'l1' }),
    l2Hits: metric(samples, 'ayala_cache_hits_total', { tier: 'l2' }),
    misses: metric(samples, 'ayala_cache_misses_total'),
    l1Entries: metric(samples, 'ayala_cache_l1_entries'),
    l1Bytes: metric(samples, 'ayala_cache_l1_bytes'),
    outboxPending: metric(samples, 'ayala_outbox_pending_effects'),
    outboxOldestS: Math.max(
      0,
      ...samples.filter((s) => s.name === 'ayala_outbox_oldest_pending_age_seconds').map((s) => s.value),
    ),
    streamLag: metric(samples, 'ayala_stream_consumer_lag'),
    routes,
  }
}
type Scrape = ReturnType<typeof scrapeFigures>

function diffRoutes(now: Scrape['routes'], before: Scrape['routes'] | undefined) {
  const out: Record<string, Record<string, number>> = {}
  for (const [route, results] of Object.entries(now)) {
    for (const [result, value] of Object.entries(results)) {
      const delta = value - (before?.[route]?.[result] ?? 0)
      if (delta <= 0) continue
      out[route] ??= {}
      ;(out[route] as Record<string, number>)[result] = delta
    }
  }
  return out
}

/** Least-squares slope of `y` over `x`. */
function slope(points: ReadonlyArray<readonly [number, number]>): number {
  if (points.length < 2) return Number.NaN
  const n = points.length
  const mx = sum(points.map(([x]) => x)) / n
  const my = sum(points.map(([, y]) => y)) / n
  const sxy = sum(points.map(([x, y]) => (x - mx) * (y - my)))
  const sxx = sum(points.map(([x]) => (x - mx) ** 2))
  return sxx === 0 ? Number.NaN : sxy / sxx
}

function merge(into: Record<string, number>, from: Record<string, number>) {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value
}

const fixed = (value: number | undefined, digits = 1) =>
  value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits)
const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-')
const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}: ${value.toLocaleString('en')}`)
    .join(', ')

/** Keep one SSE subscriber on `/dashboard/stream`: counts events, keeps the last with figures. */
function subscribeDashboard(url: string) {
  const controller = new AbortController()
  const state = { events: 0, last: undefined as unknown, error: undefined as string | undefined }
  const reading = (async () => {
    const response = await fetch(`${url}/dashboard/stream`, { signal: controller.signal })
    if (response.status !== 200 || response.body === null) throw new Error(`SSE answered ${response.status}`)
    const decoder = new TextDecoder()
    let text = ''
    for await (const chunk of response.body) {
      text += decoder.decode(chunk, { stream: true })
      let end = text.indexOf('\n\n')
      while (end !== -1) {
        const block = text.slice(0, end)
        text = text.slice(end + 2)
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n')
        if (data !== '') {
          state.events++
          const parsed = JSON.parse(data) as { figures?: unknown }
          if (parsed?.figures !== undefined) state.last = parsed
        }
        end = text.indexOf('\n\n')
      }
    }
  })().catch((error: Error) => {
    if (!controller.signal.aborted) state.error = `${error.name}: ${error.message}`
  })
  return {
    state,
    async close() {
      controller.abort()
      await reading
    },
  }
}

async function scrape(example: Example, app: AppProcess): Promise<Scrape | undefined> {
  try {
    const response = await fetch(`${app.url}/metrics`, { signal: AbortSignal.timeout(5_000) })
    if (response.status !== 200) return undefined
    return scrapeFigures(example.parsePrometheusText(await response.text()))
  } catch (error) {
    console.log(`[soak] /metrics not read: ${(error as Error).message}`)
    return undefined
  }
}

async function healthStatus(app: AppProcess): Promise<number | string> {
  try {
    const response = await fetch(`${app.url}/health`, { signal: AbortSignal.timeout(5_000) })
    await response.arrayBuffer()
    return response.status
  } catch (error) {
    return (error as Error).name
  }
}

function windowStats(tally: Tally) {
  const sorted = [...tally.latenciesMs].sort((a, b) => a - b)
  return { n: sorted.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) }
}

/** The endpoints' rows: whole-run p50/p99 (per response, ms -> us), achieved rate, statuses. */
function endpointRows(endpoints: readonly EndpointLoad[], seconds: number): ResultRow[] {
  return endpoints.map((endpoint) => {
    const sorted = [...endpoint.total.latenciesMs].sort((a, b) => a - b)
    const corrected = endpoint.result?.latency
    const errors =
      Object.keys(endpoint.total.errors).length > 0 ? `; client errors ${counts(endpoint.total.errors)}` : ''
    return {
      name: endpoint.spec.name,
      p50Us: percentile(sorted, 0.5) * 1_000,
      p99Us: percentile(sorted, 0.99) * 1_000,
      opsPerSec: sorted.length / seconds,
      ratioToBaseline: Number.NaN,
      samples: sorted.length,
      status: 'ok',
      note:
        `target ${endpoint.rate}/s on ${endpoint.spec.connections} connections; ${counts(endpoint.total.statuses)}${errors}` +
        (corrected
          ? `; autocannon (CO-corrected) p50 ${corrected.p50} ms, p99 ${corrected.p99} ms, max ${corrected.max} ms`
          : ''),
    }
  })
}

export async function run() {
  const quick = runConfig().quick
  const config = settings(quick)
  const dirty = uncommitted()
  const example = await loadExample()
  const seedStarted = Date.now()
  const dataset = await seedDataset(example, config.invoices)
  const seedMs = Date.now() - seedStarted
  console.log(`[soak] seeded ${config.invoices.toLocaleString('en')} invoices in ${seedMs} ms`)
  const db = example.openDatabase(dataset.addresses.databaseUrl, 4)
  let app: AppProcess | undefined
  let sse: ReturnType<typeof subscribeDashboard> | undefined
  // Interrupted by hand (Ctrl-C): stop the app and remove what the run created, then leave.
  const interrupted = (signal: NodeJS.Signals) => {
    console.error(`[soak] ${signal}: stopping the app and removing the dataset`)
    void (async () => {
      await app?.stop(5_000)
      await db.close().catch(() => undefined)
      await dataset.drop()
      process.exit(130)
    })()
  }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    app = await startAppProcess({
      databaseUrl: dataset.addresses.databaseUrl,
      port: await freePort(),
      instanceId: `soak-${randomBytes(3).toString('hex')}`,
    })
    const bootedAt = Date.now()
    // The aggregator replays the seed's events first: the load starts on caught-up figures.
    const truth = await example.sqlDashboard(db.prisma)
    for (;;) {
      const figures = await fetch(`${app.url}/dashboard`)
        .then((r) => r.json() as Promise<{ figures?: unknown }>)
        .then((body) => body.figures)
        .catch(() => undefined)
      if (isDeepStrictEqual(figures, truth)) break
      if (Date.now() - bootedAt > 120_000)
        throw new Error(
          `the dashboard did not catch up with the seed within 120 s: ${JSON.stringify(figures)} vs SQL ${JSON.stringify(truth)}`,
        )
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    // The live heap (after a full GC) and RSS before the load.
    const idle = await app.probe({ gc: true })
    sse = subscribeDashboard(app.url)
    const started = await scrape(example, app)
    const loadAvgStart = loadavg()[0] as number
    console.log(
      `[soak] app pid ${app.pid} on ${app.url}, dashboard caught up ${Date.now() - bootedAt} ms after boot; ` +
        `RSS ${fixed((idle?.rss ?? Number.NaN) / MB)} MB idle; load ${config.durationS} s, rates x${config.scale}`,
    )

    const mix = invoicingMix(config.invoices, example.INVOICE_STATUSES)
    const load = startLoad(app.url, mix, config.durationS, config.scale)
    const loadStarted = Date.now()
    let ended = false
    void load.done.then(() => {
      ended = true
    })
    const samples: Sample[] = []
    const probes: ProbeSample[] = []
    let previousProbe = idle
    let previousScrape = started
    let crashed: string | undefined
    while (!ended) {
      const waitUntil = loadStarted + (samples.length + 1) * config.intervalS * 1_000
      while (!ended && Date.now() < waitUntil && app.exited() === undefined) {
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(250, Math.max(1, waitUntil - Date.now()))),
        )
      }
      if (app.exited() !== undefined) {
        crashed = app.exited()
        load.stop()
        await load.done
        break
      }
      const t = (Date.now() - loadStarted) / 1_000
      if (config.sabotage === 'kill-app' && t >= config.durationS / 2 && app.exited() === undefined) {
        console.log(
          `[soak] SOAK_SABOTAGE=kill-app: SIGKILL to the app (pid ${app.pid}) at t=${t.toFixed(0)}s`,
        )
        const exit = once(app.child, 'exit')
        app.child.kill('SIGKILL')
        await exit
        continue
      }
      const windows = load.endpoints.map((endpoint) => [endpoint.spec.name, endpoint.takeWindow()] as const)
      // Every gcIntervalS, the probe runs a full GC first: the live heap over time.
      const gc =
        Math.floor(t / config.gcIntervalS) > Math.floor((samples.at(-1)?.t ?? 0) / config.gcIntervalS)
      const [probe, figures, health] = await Promise.all([
        app.probe({ gc }),
        scrape(example, app),
        healthStatus(app),
      ])
      const statuses: Record<string, number> = {}
      const endpoints: Sample['endpoints'] = {}
      let clientErrors = 0
      for (const [name, tally] of windows) {
        merge(statuses, tally.statuses)
        clientErrors += sum(Object.values(tally.errors))
        endpoints[name] = windowStats(tally)
      }
      const requests = sum(Object.values(statuses))
      const serverErrors = sum(
        Object.entries(statuses)
          .filter(([code]) => Number(code) >= 500)
          .map(([, n]) => n),
      )
      const sample: Sample = {
        t,
        windowS: t - (samples.at(-1)?.t ?? 0),
        requests,
        statuses,
        serverErrors,
        clientErrors,
        endpoints,
        loadAvg1: loadavg()[0] as number,
        health,
      }
      if (probe) {
        probes.push(probe)
        sample.rssMb = probe.rss / MB
        sample.heapUsedMb = probe.heapUsed / MB
        if (probe.collected) sample.liveHeapMb = probe.heapUsed / MB
        sample.heapTotalMb = probe.heapTotal / MB
        sample.externalMb = probe.external / MB
        sample.loopDelayP99Ms = probe.loopDelayP99Ms
        sample.loopDelayMaxMs = probe.loopDelayMaxMs
        if (previousProbe) {
          const cpuUs =
            probe.cpuUserUs + probe.cpuSystemUs - previousProbe.cpuUserUs - previousProbe.cpuSystemUs
          sample.appCpuPct = (100 * cpuUs) / 1_000 / Math.max(1, probe.at - previousProbe.at)
        }
        previousProbe = probe
      }
      if (figures) {
        sample.cache = {
          l1Hits: figures.l1Hits - (previousScrape?.l1Hits ?? 0),
          l2Hits: figures.l2Hits - (previousScrape?.l2Hits ?? 0),
          misses: figures.misses - (previousScrape?.misses ?? 0),
          l1Entries: figures.l1Entries,
          l1Mb: figures.l1Bytes / MB,
        }
        sample.routes = diffRoutes(figures.routes, previousScrape?.routes)
        sample.outboxPending = figures.outboxPending
        sample.outboxOldestS = figures.outboxOldestS
        sample.streamLag = figures.streamLag
        previousScrape = figures
      }
      samples.push(sample)
      const lookups = (sample.cache?.l1Hits ?? 0) + (sample.cache?.l2Hits ?? 0) + (sample.cache?.misses ?? 0)
      const p99 = (name: string) => fixed(endpoints[name]?.p99Ms)
      console.log(
        `[soak] t=${t.toFixed(0)}s ${(requests / sample.windowS).toFixed(0)} req/s, 5xx ${serverErrors}, client errors ${clientErrors} | ` +
          `RSS ${fixed(sample.rssMb)} MB, heap ${fixed(sample.heapUsedMb)} MB, app CPU ${fixed(sample.appCpuPct, 0)}% | ` +
          `L1 ${pct(sample.cache?.l1Hits ?? 0, lookups)} | outbox ${sample.outboxPending ?? '-'} | ` +
          `p99 ms: hot ${p99('GET /invoices/:id (hot)')}, search ${p99('GET /search')}, patch ${p99('PATCH /invoices/:id')} | ` +
          `health ${health} | load ${sample.loadAvg1.toFixed(1)}`,
      )
    }
    await load.done
    const loadSeconds = (Date.now() - loadStarted) / 1_000
    const live = await app.probe({ gc: true })
    const finished = await scrape(example, app)
    const loadAvgEnd = loadavg()[0] as number

    if (config.sabotage === 'sql-write') {
      // Every report range read first (cached), so that the stale copies include reports too.
      for (const range of REPORT_RANGES) await (await fetch(`${app.url}${reportPath(range)}`)).arrayBuffer()
      const changed = await db.prisma.$executeRawUnsafe(
        "UPDATE invoices SET version = version + 1, status = IF(status = 'paid', 'draft', 'paid') WHERE id <= 5",
      )
      console.log(`[soak] SOAK_SABOTAGE=sql-write: ${changed} rows changed behind the app's back`)
    }

    let verification: Verification | undefined
    let verifyError: string | undefined
    if (crashed === undefined) {
      try {
        verification = await verifyCopies({
          example,
          prisma: db.prisma,
          url: app.url,
          names: dataset.names,
          searchUrl: dataset.addresses.searchUrl,
          invoices: config.invoices,
          sse: sse.state,
        })
      } catch (error) {
        verifyError = (error as Error).stack ?? String(error)
      }
    }
    await sse.close()
    if (app.exited() !== undefined && crashed === undefined) crashed = app.exited()
    const logs = app.logCounts()
    const notable = app.notableLines()
    await app.stop()

    // Figures of the run.
    const totalStatuses: Record<string, number> = {}
    const totalErrors: Record<string, number> = {}
    for (const endpoint of load.endpoints) {
      merge(totalStatuses, endpoint.total.statuses)
      merge(totalErrors, endpoint.total.errors)
    }
    const requests = sum(Object.values(totalStatuses))
    const serverErrors = sum(
      Object.entries(totalStatuses)
        .filter(([code]) => Number(code) >= 500)
        .map(([, n]) => n),
    )
    const withRss = samples.filter((s) => s.rssMb !== undefined)
    const half = samples.filter((s) => s.t >= loadSeconds / 2 && s.rssMb !== undefined)
    const rssSlope = slope(half.map((s) => [s.t / 60, s.rssMb as number] as const))
    const heapSlope = slope(half.map((s) => [s.t / 60, s.heapUsedMb as number] as const))
    const liveSamples = samples.filter((s) => s.liveHeapMb !== undefined)
    const liveSlope = slope(
      liveSamples
        .filter((s) => s.t >= loadSeconds / 2)
        .map((s) => [s.t / 60, s.liveHeapMb as number] as const),
    )
    const rss = {
      idleMb: (idle?.rss ?? Number.NaN) / MB,
      firstMb: withRss[0]?.rssMb ?? Number.NaN,
      lastMb: withRss.at(-1)?.rssMb ?? Number.NaN,
      maxMb: Math.max(...withRss.map((s) => s.rssMb as number)),
      slopeMbPerMin: rssSlope,
      heapFirstMb: withRss[0]?.heapUsedMb ?? Number.NaN,
      heapLastMb: withRss.at(-1)?.heapUsedMb ?? Number.NaN,
      heapMaxMb: Math.max(...withRss.map((s) => s.heapUsedMb as number)),
      heapSlopeMbPerMin: heapSlope,
      halfMb: half[0]?.rssMb ?? Number.NaN,
      heapTotalLastMb: withRss.at(-1)?.heapTotalMb ?? Number.NaN,
      /** heapUsed after a full GC: before the load, and right after it. */
      liveHeapIdleMb: idle?.collected ? idle.heapUsed / MB : Number.NaN,
      liveHeapAfterMb: live?.collected ? live.heapUsed / MB : Number.NaN,
      rssAfterGcMb: (live?.rss ?? Number.NaN) / MB,
      liveHeapSeries: liveSamples.map((s) => [Math.round(s.t), Number((s.liveHeapMb as number).toFixed(1))]),
      liveHeapSlopeMbPerMin: liveSlope,
    }
    const cacheRun = {
      l1Hits: (finished?.l1Hits ?? 0) - (started?.l1Hits ?? 0),
      l2Hits: (finished?.l2Hits ?? 0) - (started?.l2Hits ?? 0),
      misses: (finished?.misses ?? 0) - (started?.misses ?? 0),
      routes: diffRoutes(finished?.routes ?? {}, started?.routes),
    }
    const lookups = cacheRun.l1Hits + cacheRun.l2Hits + cacheRun.misses
    const routeRatio = (route: string) => {
      const r = cacheRun.routes[route] ?? {}
      const all = sum(Object.values(r))
      return `${pct((r.l1_hit ?? 0) + (r.l2_hit ?? 0), all)} (L1 ${pct(r.l1_hit ?? 0, all)}, L2 ${pct(r.l2_hit ?? 0, all)}, ${all.toLocaleString('en')} lookups)`
    }
    const outboxMax = Math.max(0, ...samples.map((s) => s.outboxPending ?? 0))
    const outboxMean = sum(samples.map((s) => s.outboxPending ?? 0)) / Math.max(1, samples.length)
    const oldestMax = Math.max(0, ...samples.map((s) => s.outboxOldestS ?? 0))
    const loadAvgs = samples.map((s) => s.loadAvg1)
    const healthCounts: Record<string, number> = {}
    for (const s of samples) healthCounts[String(s.health)] = (healthCounts[String(s.health)] ?? 0) + 1

    const failures: string[] = []
    if (crashed !== undefined) failures.push(`the app ended during the run (${crashed})`)
    if (serverErrors > 0) failures.push(`${serverErrors} 5xx answers under load (${counts(totalStatuses)})`)
    if (verifyError !== undefined) failures.push(`the checks could not finish: ${verifyError}`)
    if (verification && verification.serverErrors > 0)
      failures.push(`${verification.serverErrors} 5xx answers during the checks`)
    if (verification && verification.mismatches > 0)
      failures.push(`${verification.mismatches} copies differ from SQL`)

    const v = verification
    const notes = [
      `Machine: ${cpus().length} cores (${availableParallelism()} available), shared with other engineers' tests and benchmarks: load average ${loadAvgStart.toFixed(1)} at the start, ${fixed(sum(loadAvgs) / Math.max(1, loadAvgs.length))} mean / ${fixed(Math.max(...loadAvgs))} max during the load, ${loadAvgEnd.toFixed(1)} at the end.`,
      `Code: the commit below${dirty.length ? ` plus ${dirty.length} uncommitted file(s) under examples/invoicing-api and packages/ at the start (others' work in progress in the shared tree: ${dirty.slice(0, 12).join(', ')}${dirty.length > 12 ? ', ...' : ''})` : ', clean'}.`,
      `Dataset: ${config.invoices.toLocaleString('en')} invoices seeded in ${(seedMs / 1_000).toFixed(1)} s (MariaDB ${dataset.timings.database} ms, search ${dataset.timings.search} ms, Kafka ${dataset.timings.kafka} ms); the app as its own process (pid ${app.pid}).`,
      `Load: ${loadSeconds.toFixed(0)} s, ${requests.toLocaleString('en')} requests (${(requests / loadSeconds).toFixed(0)} req/s), statuses ${counts(totalStatuses)}; client errors ${Object.keys(totalErrors).length ? counts(totalErrors) : 'none'}; 5xx ${serverErrors}. 409s are PATCHes that lost the optimistic lock to a concurrent one (expected).`,
      `App memory (the probe, ${withRss.length} samples every ${config.intervalS} s): RSS ${fixed(rss.idleMb)} MB idle before the load, ${fixed(rss.firstMb)} MB at the first sample, ${fixed(rss.halfMb)} MB half-way, ${fixed(rss.lastMb)} MB at the end, max ${fixed(rss.maxMb)} MB; slope over the second half ${fixed(rss.slopeMbPerMin, 2)} MB/min. Heap used (sampled, garbage included) ${fixed(rss.heapFirstMb)} -> ${fixed(rss.heapLastMb)} MB (max ${fixed(rss.heapMaxMb)}, heap reserved ${fixed(rss.heapTotalLastMb)} MB at the end), slope ${fixed(rss.heapSlopeMbPerMin, 2)} MB/min. Live heap after a full GC (every ${config.gcIntervalS} s): ${fixed(rss.liveHeapIdleMb)} MB before the load, ${rss.liveHeapSeries.map(([t, mb]) => `${mb} at ${t} s`).join(', ')}, ${fixed(rss.liveHeapAfterMb)} MB right after it; slope over the second half ${fixed(rss.liveHeapSlopeMbPerMin, 2)} MB/min (L1 then ${samples.at(-1)?.cache?.l1Entries ?? '-'} entries, ${fixed(samples.at(-1)?.cache?.l1Mb)} MB), RSS ${fixed(rss.rssAfterGcMb)} MB after that GC.`,
      `Cache (all lookups of the run, /metrics): ${lookups.toLocaleString('en')} lookups, L1 ${pct(cacheRun.l1Hits, lookups)}, L2 ${pct(cacheRun.l2Hits, lookups)}, misses ${pct(cacheRun.misses, lookups)}; GET /invoices/:id ${routeRatio('GET /invoices/:id')}; GET /reports/monthly ${routeRatio('GET /reports/monthly')}.`,
      `Outbox backlog (pending effects, all sinks): max ${outboxMax}, mean ${outboxMean.toFixed(1)}, oldest pending at most ${oldestMax.toFixed(1)} s; drained ${v ? `in ${v.outbox.drainMs} ms after the load (${v.outbox.pending} left, ${v.outbox.dead} dead letters)` : '(not checked)'}.`,
      `/health during the load: ${counts(healthCounts)}. App log lines: ${counts(logs) || 'none'}${notable.length ? ` (warnings, errors, stderr: ${notable.map((line) => `\`${line.replaceAll('`', "'").replaceAll('|', '/')}\``).join('; ')})` : ''}.`,
      v
        ? `Copies vs SQL after the drain: index ${v.index.documents.toLocaleString('en')} documents, ${v.index.stale} stale, ${v.index.missing} missing, ${v.index.extra} extra${v.index.examples.length ? ` (${v.index.examples.join('; ')})` : ''}; search totals ${v.searchTotals.map((s) => `"${s.text}" ${s.served}/${s.sql}`).join(', ')} (served/SQL); dashboard ${v.dashboard.equal ? 'equal' : '**differs**'} (${v.dashboard.catchUpMs} ms after the drain), SSE ${v.sse.events} events, last figures ${v.sse.equal === undefined ? 'none' : v.sse.equal ? 'equal' : '**differ**'}; cached reads ${v.cachedReads.checked.toLocaleString('en')} checked, ${v.cachedReads.stale} stale${v.cachedReads.examples.length ? ` (${v.cachedReads.examples.join('; ')})` : ''}; reports ${v.reports.checked} ranges, ${v.reports.differing} differ; ${v.mismatches} mismatches in all.`
        : `Copies vs SQL: not checked (${crashed ? `the app ended: ${crashed}` : verifyError}).`,
      ...(config.sabotage
        ? [
            `SOAK_SABOTAGE=${config.sabotage}: a self-check (${config.sabotage === 'sql-write' ? 'five rows changed straight in SQL before the checks' : 'the app SIGKILLed halfway'}); this run must fail.`,
          ]
        : []),
      failures.length === 0
        ? 'Verdict: no crash, no 5xx, every copy equal to SQL.'
        : `Verdict: FAILED: ${failures.join('; ')}.`,
    ]

    const timeline = [
      '### Over time',
      '',
      '| t (s) | req/s | 5xx | client errors | RSS (MB) | heap used / reserved (MB) | app CPU | loop delay p99 (ms) | L1 / L2 / miss | L1 entries | outbox pending | consumer lag | /health | load avg |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|',
      ...samples.map((s) => {
        const all = (s.cache?.l1Hits ?? 0) + (s.cache?.l2Hits ?? 0) + (s.cache?.misses ?? 0)
        return `| ${s.t.toFixed(0)} | ${(s.requests / s.windowS).toFixed(0)} | ${s.serverErrors} | ${s.clientErrors} | ${fixed(s.rssMb)} | ${fixed(s.heapUsedMb)} / ${fixed(s.heapTotalMb)} | ${fixed(s.appCpuPct, 0)}% | ${fixed(s.loopDelayP99Ms)} | ${pct(s.cache?.l1Hits ?? 0, all)} / ${pct(s.cache?.l2Hits ?? 0, all)} / ${pct(s.cache?.misses ?? 0, all)} | ${s.cache?.l1Entries ?? '-'} | ${s.outboxPending ?? '-'} | ${s.streamLag ?? '-'} | ${s.health} | ${s.loadAvg1.toFixed(1)} |`
      }),
      '',
      '### p50 / p99 per endpoint over time (ms, per response)',
      '',
      `| t (s) | ${mix.map((m) => m.name).join(' | ')} |`,
      `|---:|${mix.map(() => '---:').join('|')}|`,
      ...samples.map(
        (s) =>
          `| ${s.t.toFixed(0)} | ${mix.map((m) => `${fixed(s.endpoints[m.name]?.p50Ms)} / ${fixed(s.endpoints[m.name]?.p99Ms)}`).join(' | ')} |`,
      ),
    ].join('\n')

    const result = writeResult(
      'invoicing-soak',
      `Soak of the invoicing example: ${config.invoices.toLocaleString('en')} invoices, every endpoint at once for ${loadSeconds.toFixed(0)} s (${(requests / loadSeconds).toFixed(0)} req/s)`,
      endpointRows(load.endpoints, loadSeconds),
      'none (a soak: one row per endpoint; p50/p99 per response over the whole run, ops/s = achieved rate)',
      {
        description:
          'The app as its own process, seeded, under the mix of `benchmarks/src/soak/load.ts` (autocannon, one instance per endpoint, fixed rates) plus one SSE subscriber; sampled over time; then the outbox drained and every copy compared with SQL. Fails only on a crash, a 5xx or a copy that differs from SQL.',
        notes,
        appendix: timeline,
        data: {
          settings: config,
          uncommitted: dirty,
          requests,
          statuses: totalStatuses,
          clientErrors: totalErrors,
          serverErrors,
          rss,
          cache: cacheRun,
          outbox: { max: outboxMax, mean: outboxMean, oldestMaxS: oldestMax },
          loadAvg: { start: loadAvgStart, end: loadAvgEnd, samples: loadAvgs },
          health: healthCounts,
          logs,
          notableLogLines: notable,
          verification: v,
          failures,
          samples,
        },
      },
    )
    if (failures.length > 0) {
      if (crashed !== undefined) console.error(`[soak] the app's last output:\n${app.output().slice(-8_000)}`)
      throw new Error(`invoicing-soak failed: ${failures.join('; ')}`)
    }
    return result
  } finally {
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
    await sse?.close()
    await app?.stop()
    await db.close()
    await dataset.drop()
  }
}
