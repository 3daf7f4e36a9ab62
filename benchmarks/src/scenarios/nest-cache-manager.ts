/**
 * Scenario: the same Nest route through `@nestjs/cache-manager` and through the drop-in, over
 * HTTP with autocannon (issue 20).
 *
 * Each contender (`../nest-cache/contenders.ts`) is the same application (`../nest-cache/app.ts`)
 * with another cache module: `@nestjs/cache-manager` 12 + cache-manager 7 on Keyv Redis (the
 * baseline: what the Nest documentation shows for Redis), the same with cache-manager's README
 * two tiers (Keyv memory over Keyv Redis), `@ayala/nestjs/cache-manager` (L1 + Redis), and no
 * cache (the 2 ms loader on every request). Two routes each: `CacheInterceptor` by URL, and
 * `cacheManager.wrap()` in the handler. Every key is requested once before the load, so the
 * measured requests are hits: the cache's read path through Nest, Express and HTTP; then every
 * route is loaded for 2 s unmeasured (a fresh process's first route ran at a third of its later
 * throughput), then each route is measured.
 *
 * Each contender's application runs in its own process for a whole round; autocannon, in this
 * one, loads one route of one contender at a time, in slices: every contender and route once per
 * slice, the order rotated from slice to slice. Each ratio is taken within a slice, against the
 * baseline's same route measured seconds before or after (on a shared 2-core machine the load of
 * the other processes drifts by minutes: measured a process at a time, round to round figures of
 * one contender differed 3x), and the report gives the median over the slices.
 *
 * Variables: `NEST_BENCH_ROUNDS` (fresh processes; default 2, 1 in `--quick`), `NEST_BENCH_SLICES`
 * per round (default 6; 1 in `--quick`), `NEST_BENCH_SECONDS` per measured run (default 2; 1 in
 * `--quick`), `NEST_BENCH_CONNECTIONS` (default 10).
 */
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { CONTENDERS, type ContenderName } from '../nest-cache/contenders.js'
import { fill, KEYS, type LoadFigures, measure, warm } from '../nest-cache/load.js'
import { type ContenderApp, startContender } from '../nest-cache/spawn.js'
import { emptyRow, percentile, type ResultRow, ratioGoal, runConfig, writeResult } from '../report.js'

const ROUTES = [
  { path: 'invoices', label: 'CacheInterceptor' },
  { path: 'wrapped', label: 'wrap()' },
] as const
const BASELINE: ContenderName = 'nestjs-keyv-redis'

/**
 * The routes measured for a contender: `wrap()` does not go through the interceptor, so the two
 * contenders that differ from the drop-in only there (no cache, `@nestjs/cache-manager`'s
 * interceptor over the drop-in) have the interceptor route only.
 */
function routesOf(name: ContenderName): Array<(typeof ROUTES)[number]> {
  return name === 'no-cache' || name === 'ayala-drop-in-nest-interceptor'
    ? ROUTES.filter((route) => route.path === 'invoices')
    : [...ROUTES]
}

function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  )
}

export async function run() {
  const quick = runConfig().quick
  const rounds = Number(process.env.NEST_BENCH_ROUNDS ?? (quick ? 1 : 2))
  const slices = Number(process.env.NEST_BENCH_SLICES ?? (quick ? 1 : 6))
  const seconds = Number(process.env.NEST_BENCH_SECONDS ?? (quick ? 1 : 2))
  const connections = Number(process.env.NEST_BENCH_CONNECTIONS ?? 10)
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const names = Object.keys(CONTENDERS) as ContenderName[]
  const pairs = names.flatMap((name) => routesOf(name).map((route) => ({ name, route })))
  const figures = new Map<string, LoadFigures[]>()
  /** Per slice: req/s and mean-latency ratios to the baseline's same route of the same slice. */
  const ratios = new Map<string, Array<{ rps: number; mean: number }>>()
  const failures = new Map<string, string>()
  const namespaces: string[] = []

  for (let round = 0; round < rounds; round++) {
    // Every contender's app runs for the whole round (idle but one while another is loaded), so
    // the figures compared within a slice are seconds apart, not minutes.
    const apps = new Map<ContenderName, ContenderApp>()
    try {
      for (const name of names) {
        const namespace = `bench-nest-${randomUUID().slice(0, 8)}`
        namespaces.push(namespace)
        const app = await startContender(name, redisUrl, namespace).catch((error: Error) => {
          failures.set(name, error.message.split('\n')[0] ?? 'failed to start')
          return undefined
        })
        if (app !== undefined) apps.set(name, app)
      }
      for (const { name, route } of pairs) {
        const app = apps.get(name)
        if (app === undefined) continue
        await fill(app.url, route.path).catch((error: Error) => {
          failures.set(name, error.message)
          apps.delete(name)
        })
      }
      for (const { name, route } of pairs) {
        const app = apps.get(name)
        if (app !== undefined) await warm(app.url, route.path, quick ? 0.5 : 2, connections)
      }
      for (let slice = 0; slice < slices; slice++) {
        const shift = (round * slices + slice) % pairs.length
        const order = pairs.map((_, i) => pairs[(i + shift) % pairs.length] as (typeof pairs)[number])
        const measured = new Map<string, LoadFigures>()
        for (const { name, route } of order) {
          const app = apps.get(name)
          if (app === undefined) continue
          const key = `${name}/${route.path}`
          const result = await measure(app.url, route.path, { seconds, connections })
          measured.set(key, result)
          figures.set(key, [...(figures.get(key) ?? []), result])
          console.log(
            `[nest-cache-manager] round ${round + 1}/${rounds} slice ${slice + 1}/${slices} ${key}: ${Math.round(result.requestsPerSec)} req/s, mean ${result.meanMs} ms, p99 ${result.p99Ms} ms, non-2xx ${result.non2xx}, errors ${result.errors}`,
          )
        }
        for (const [key, result] of measured) {
          const base = measured.get(`${BASELINE}/${key.split('/')[1]}`)
          if (base === undefined) continue
          const entry = {
            rps: result.requestsPerSec / base.requestsPerSec,
            mean: result.meanMs / base.meanMs,
          }
          ratios.set(key, [...(ratios.get(key) ?? []), entry])
        }
      }
    } finally {
      await Promise.all([...apps.values()].map((app) => app.stop()))
    }
  }
  await dropNamespaces(redisUrl, namespaces)
  // A peer that fails is a row of the report; ours failing fails the run (CI's quick mode too).
  for (const ours of ['ayala-drop-in', 'ayala-drop-in-nest-interceptor'] as const) {
    const why = failures.get(ours)
    if (why !== undefined) throw new Error(`nest-cache-manager: ${CONTENDERS[ours].label} failed: ${why}`)
  }

  const rows: ResultRow[] = []
  const summary: Record<string, unknown> = {}
  for (const route of ROUTES) {
    for (const name of names) {
      if (!routesOf(name).includes(route)) continue
      const key = `${name}/${route.path}`
      const rowName = `${CONTENDERS[name].label}, ${route.label}`
      const runs = figures.get(key) ?? []
      const perSlice = ratios.get(key) ?? []
      if (runs.length === 0) {
        rows.push(emptyRow(rowName, 'error', failures.get(name) ?? 'no run'))
        continue
      }
      const rps = median(runs.map((f) => f.requestsPerSec))
      const mean = median(runs.map((f) => f.meanMs))
      const rpsRatios = perSlice.map((r) => r.rps).sort((a, b) => a - b)
      const bad = runs.reduce((sum, f) => sum + f.non2xx + f.errors, 0)
      rows.push({
        name: rowName,
        p50Us: median(runs.map((f) => f.p50Ms)) * 1_000,
        p99Us: median(runs.map((f) => f.p99Ms)) * 1_000,
        opsPerSec: rps,
        // autocannon's p50 is whole milliseconds (0 for a sub-ms hit): the ratio is of the mean
        // latencies, per slice against the baseline's same route, then the median.
        ratioToBaseline: median(perSlice.map((r) => r.mean)),
        samples: runs.reduce((sum, f) => sum + f.requests, 0),
        status: 'ok',
        note: `mean ${mean.toFixed(2)} ms; req/s ${median(rpsRatios).toFixed(2)}x the baseline's (slices ${(rpsRatios[0] ?? Number.NaN).toFixed(2)}-${(rpsRatios.at(-1) ?? Number.NaN).toFixed(2)}x)${bad > 0 ? `; ${bad} non-2xx or errors` : ''}`,
      })
      summary[key] = { rps, meanMs: mean, ratios: perSlice, runs }
    }
  }
  const rpsRatio = (route: string) => median((ratios.get(`ayala-drop-in/${route}`) ?? []).map((r) => r.rps))
  return writeResult(
    'nest-cache-manager',
    `The same Nest route: @nestjs/cache-manager vs the @ayala drop-in (HTTP, autocannon, ${connections} connections)`,
    rows,
    `${CONTENDERS[BASELINE].label} (per route)`,
    {
      description:
        "Hits only: every one of the 200 keys was requested once before the load, then every route was loaded 2 s unmeasured. Every contender's Nest app (Express) runs in its own process for a whole round; autocannon, in the benchmark process, loads one route at a time, in slices (every contender and route once per slice, the order rotated); each ratio is taken within a slice against the baseline's same route, and the figures are medians over the slices.",
      goals: [
        ratioGoal('drop-in req/s vs Keyv Redis, CacheInterceptor', rpsRatio('invoices'), 1, true),
        ratioGoal('drop-in req/s vs Keyv Redis, wrap()', rpsRatio('wrapped'), 1, true),
      ],
      notes: [
        `${rounds} round(s) of ${slices} slice(s) x ${seconds} s per contender and route, ${connections} connections, ${KEYS} keys cycled; the Redis is the harness's (loopback)`,
        "latency is autocannon's per-response time (Express, Nest, the interceptor or wrap, the cache), p50/p99 in whole milliseconds; the p50 / baseline column is the median per-slice ratio of the mean latencies; the machine is shared, so compare ratios within this run",
        ...[...failures].map(([name, why]) => `${name} failed: ${why}`),
      ],
      data: summary,
    },
  )
}

/** Delete the run's keys (the drop-in's carry `{namespace}`, Keyv's start with `namespace:`). */
async function dropNamespaces(redisUrl: string, namespaces: string[]): Promise<void> {
  const redis = new Redis(redisUrl)
  try {
    for (const ns of namespaces) {
      for (const pattern of [`*{${ns}}*`, `${ns}:*`]) {
        const keys = await redis.keys(pattern)
        if (keys.length > 0) await redis.del(...keys)
      }
    }
  } finally {
    redis.disconnect()
  }
}
