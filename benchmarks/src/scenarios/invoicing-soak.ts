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
 *
 * This file is the run's order; the mechanisms live in `../soak/`: `settings.ts` (the variables),
 * `example.ts` (seeding), `app-process.ts` (the app and its probe), `load.ts` (the traffic),
 * `sse.ts` (the subscriber), `scrape.ts` (`/metrics`, `/health`), `sampling.ts` (the windows),
 * `verify.ts` (the copies against SQL), `result.ts` (figures, verdict, report).
 */
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { isDeepStrictEqual } from 'node:util'
import { runConfig } from '../report.js'
import { type AppProcess, freePort, startAppProcess } from '../soak/app-process.js'
import { loadExample, seedDataset } from '../soak/example.js'
import { fixed, MB } from '../soak/figures.js'
import { invoicingMix, REPORT_RANGES, reportPath, startLoad } from '../soak/load.js'
import { reportRun } from '../soak/result.js'
import { sampleRun } from '../soak/sampling.js'
import { scrape } from '../soak/scrape.js'
import { settings, uncommitted } from '../soak/settings.js'
import { type DashboardSubscription, subscribeDashboard } from '../soak/sse.js'
import { type Verification, verifyCopies } from '../soak/verify.js'

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
  let sse: DashboardSubscription | undefined
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
    const sampling = await sampleRun({ config, example, app, load, loadStarted, idle, started })
    const samples = sampling.samples
    let crashed = sampling.crashed
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

    const { result, failures } = reportRun({
      config,
      dirty,
      seedMs,
      timings: dataset.timings,
      appPid: app.pid,
      mix,
      endpoints: load.endpoints,
      loadSeconds,
      samples,
      idle,
      live,
      started,
      finished,
      loadAvgStart,
      loadAvgEnd,
      crashed,
      verification,
      verifyError,
      logs,
      notable,
    })
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
