/**
 * Scenario: the plan's table, end to end over HTTP. The invoicing example seeded with
 * `E2E_INVOICES` invoices (1,000,000; 20,000 in `--quick` mode) in a database of its own, reused
 * between runs (`../e2e/dataset.ts`: the seed is a separate step with a progress bar), the API
 * started as its own process (`src/main.ts`, what `pnpm start` runs) and the SQL reference
 * server as another (`src/cli/sql-server.ts`). For the dashboard, a search, one invoice, the
 * monthly report, a list page (when the API has one) and autocomplete: the served path and the
 * SQL path (the API's `?source=db` where it has one, else the reference server), each loaded by
 * autocannon with 1 and 32 connections for `E2E_DURATION` seconds (10; 1.5 in quick mode), with
 * p50, p99, requests per second, the served/SQL ratios, the in-process cost the interceptor
 * measured, and the engine's own time for the search. The mechanism is the example's
 * `src/load/` (the demo prints the same table at its size).
 *
 * Every pair is checked before it is measured (served = SQL). The run fails when the served path
 * answers anything but 2xx or a request fails; a slow or failing SQL path is a figure of the
 * table, and no timing is ever asserted.
 */
import { loadavg } from 'node:os'
import { isDeepStrictEqual } from 'node:util'
import { createSearchClient } from '@ayala/search'
import { ensureDataset } from '../e2e/dataset.js'
import { loadE2eExample, type ServiceProcess, type TargetFigures } from '../e2e/example.js'
import { emptyRow, type Goal, type ResultRow, runConfig, writeResult } from '../report.js'

const SCENARIO = 'e2e'

/** Wait until the app's dashboard figures are SQL's (the aggregator replays the seed's events first). */
async function caughtUp(appUrl: string, sqlUrl: string, timeoutMs: number): Promise<number> {
  const started = Date.now()
  const figures = async (url: string) =>
    ((await (await fetch(`${url}/dashboard`)).json()) as { figures?: Record<string, unknown> }).figures ?? {}
  const truth = await figures(sqlUrl)
  let lastLog = 0
  let countedSince: number | undefined
  for (;;) {
    const served = await figures(appUrl).catch(() => ({}) as Record<string, unknown>)
    const differ = Object.entries(truth)
      .filter(([name, value]) => !isDeepStrictEqual(served[name], value))
      .map(([name]) => name)
    if (differ.length === 0) return Date.now() - started
    // Every event applied and still different: the dataset's events or Redis state predate the
    // dashboard's current figures (a figure added since the seed).
    if (served.invoices === truth.invoices) countedSince ??= Date.now()
    if (countedSince !== undefined && Date.now() - countedSince > 60_000)
      throw new Error(
        `every invoice is counted but ${differ.join(', ')} still differ from SQL after 60 s: the dataset predates these figures; run with E2E_RESEED=1`,
      )
    if (Date.now() - started > timeoutMs)
      throw new Error(`the dashboard did not catch up within ${timeoutMs} ms: ${differ.join(', ')} differ`)
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now()
      console.log(
        `[e2e] dashboard catching up: ${Number(served.invoices ?? 0).toLocaleString('en')} of ${Number(truth.invoices).toLocaleString('en')} invoices counted; ${differ.join(', ')} differ`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

function rowsOf(results: readonly TargetFigures[]): ResultRow[] {
  const rows: ResultRow[] = []
  for (const result of results) {
    if (result.served.length === 0) {
      rows.push(emptyRow(result.name, 'missing', result.note ?? 'not measured'))
      continue
    }
    for (const kind of ['sql', 'served'] as const) {
      for (const run of result[kind]) {
        const sql = result.sql.find((r) => r.connections === run.connections)
        rows.push({
          name: `${result.name} ${kind === 'sql' ? `SQL (${result.sqlVia})` : 'served'} c=${run.connections}`,
          p50Us: run.p50Ms * 1_000,
          p99Us: run.p99Ms * 1_000,
          opsPerSec: run.requestsPerSecond,
          ratioToBaseline: sql === undefined ? Number.NaN : run.p50Ms / sql.p50Ms,
          samples: run.samples,
          status: 'ok',
          note:
            [
              run.non2xx + run.errors > 0 ? `${run.non2xx} non-2xx, ${run.errors} errors` : '',
              run.inProcessMeanMs === undefined ? '' : `in-process mean ${run.inProcessMeanMs.toFixed(3)} ms`,
              run.engineMs === undefined ? '' : `engine ${run.engineMs.toFixed(2)} ms/query`,
            ]
              .filter(Boolean)
              .join('; ') || undefined,
        })
      }
    }
  }
  return rows
}

/** The plan's targets at 1M over loopback, served p50 with 1 connection (reported, never asserted). */
function goals(results: readonly TargetFigures[], count: number): Goal[] {
  const p50 = (prefix: string) => results.find((r) => r.name.startsWith(prefix))?.served[0]?.p50Ms
  const goal = (name: string, prefix: string, target: number, label: string): Goal => {
    const value = p50(prefix)
    return {
      goal: `${name}: served p50, 1 connection, ${count.toLocaleString('en')} invoices`,
      measured: value === undefined ? 'n/a' : `${value.toFixed(2)} ms`,
      target: label,
      met: value === undefined ? undefined : value < target,
    }
  }
  return [
    goal('dashboard', 'dashboard', 1, '< 1 ms'),
    goal('monthly report', 'monthly report', 1, '< 1 ms'),
    goal('one invoice', 'one invoice', 1, '< 1 ms'),
    goal('search', 'search', 15, 'about 10 ms'),
  ]
}

export async function run() {
  const quick = runConfig().quick
  const count = Number(process.env.E2E_INVOICES || (quick ? 20_000 : 1_000_000))
  const durationS = Number(process.env.E2E_DURATION || (quick ? 1.5 : 10))
  const example = await loadE2eExample()
  const dataset = await ensureDataset(example, count)
  const env = { INVOICING_DATABASE_URL: dataset.addresses.databaseUrl }
  let app: ServiceProcess | undefined
  let sql: ServiceProcess | undefined
  const search = createSearchClient(example.searchClientOptions(dataset.addresses) as never)
  try {
    sql = await example.startService('src/cli/sql-server.ts', { env, readyPath: '/invoices/1' })
    app = await example.startService('src/main.ts', {
      env,
      readyPath: '/invoices/1',
      startTimeoutMs: 600_000,
    })
    const caughtUpMs = await caughtUp(app.url, sql.url, 30 * 60_000)
    console.log(
      `[e2e] app pid ${app.pid} on ${app.url}, SQL reference pid ${sql.pid}; dashboard = SQL ${caughtUpMs} ms after start`,
    )
    const loadStart = loadavg()[0] as number
    const targets = await example.buildTargets({ appUrl: app.url, sqlUrl: sql.url, invoices: count })
    const results = await example.measureTargets(targets, {
      appUrl: app.url,
      connections: [1, 32],
      durationS,
      minSamples: quick ? 10 : 20,
      slowSamples: quick ? 3 : 5,
      engineStats: () => example.indexSearchStats(search, dataset.names.index),
      log: (line) => console.log(`[e2e] ${line}`),
    })
    const loadEnd = loadavg()[0] as number
    const table = example.markdownTable(results)
    // 503 is the API shedding load (the search engine's 1 s budget ran out): a figure of the
    // table. Any other non-2xx, or a request that got no answer, fails the run.
    const failures = results.flatMap((r) =>
      r.served.flatMap((s) => {
        const bad = Object.entries(s.statuses).filter(([status]) => status !== '503')
        return bad.length > 0 || s.errors > 0
          ? [
              `${r.name} c=${s.connections}: ${bad.map(([st, n]) => `${n} x ${st}`).join(', ')} ${s.errors} client errors`,
            ]
          : []
      }),
    )
    const command = `pnpm bench${quick ? ' --quick' : ''} e2e`
    const result = writeResult(
      SCENARIO,
      `End to end: the invoicing API at ${count.toLocaleString('en')} invoices, served vs SQL, over HTTP`,
      rowsOf(results),
      "the same endpoint's SQL path at the same concurrency (p50 / baseline = served p50 / SQL p50)",
      {
        description:
          `\`${command}\`: the example's API (own process) and its SQL path (\`?source=db\` on the API, else the SQL reference server, own process) ` +
          `on ${count.toLocaleString('en')} invoices, autocannon over loopback with 1 and 32 connections, ${durationS} s per run ` +
          '(a path slower than the run / 20 gets 5 requests at 1 connection and one per connection at 32). ' +
          `Dataset ${dataset.reused ? 'reused' : `seeded in ${(dataset.ms / 1_000).toFixed(0)} s`}; load average ${loadStart.toFixed(1)} -> ${loadEnd.toFixed(1)} on a machine shared with other work.`,
        goals: goals(results, count),
        notes: [
          'Latencies: every 2xx response as autocannon reports it (request to response, exact percentiles over the samples); non-2xx and client errors counted, not timed.',
          'In-process: the interceptor histogram delta for the route during the run (mean = sum / count; p99 from buckets starting at 1 ms). Engine: the index search statistics delta (query + fetch time per query, primaries).',
          'One invoice: 200 ids, each read once before the run (served = cache hits). SQL reference server: node:http + Prisma reference queries, no framework: its figures are if anything kind to SQL.',
        ],
        appendix: table,
        data: {
          invoices: count,
          durationS,
          dataset: { reused: dataset.reused, ms: dataset.ms, timings: dataset.timings },
          results,
        },
      },
    )
    console.log(`\n${table}\n`)
    if (failures.length > 0) throw new Error(`e2e: the served path failed: ${failures.join('; ')}`)
    return result
  } catch (error) {
    if (app !== undefined) console.error(`[e2e] the app's last output:\n${app.output().slice(-4_000)}`)
    throw error
  } finally {
    await app?.stop()
    await sql?.stop()
    await search.close()
  }
}
