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
 * The application runs in its own process (one per contender and round), autocannon in this one;
 * rounds interleave the contenders (order rotated) so each sees the same drift of a shared 2-core
 * machine, and each figure is the median over rounds. Ratios are against the baseline's same route
 * measured in the same run.
 *
 * Variables: `NEST_BENCH_ROUNDS` (default 5; 1 in `--quick`), `NEST_BENCH_SECONDS` per measured
 * run (default 5; 1 in `--quick`), `NEST_BENCH_CONNECTIONS` (default 10).
 */
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { CONTENDERS, type ContenderName } from '../nest-cache/contenders.js'
import { fill, KEYS, type LoadFigures, measure, warm } from '../nest-cache/load.js'
import { startContender } from '../nest-cache/spawn.js'
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
  const rounds = Number(process.env.NEST_BENCH_ROUNDS ?? (quick ? 1 : 5))
  const seconds = Number(process.env.NEST_BENCH_SECONDS ?? (quick ? 1 : 5))
  const connections = Number(process.env.NEST_BENCH_CONNECTIONS ?? 10)
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const names = Object.keys(CONTENDERS) as ContenderName[]
  const figures = new Map<string, LoadFigures[]>()
  const failures = new Map<string, string>()
  const namespaces: string[] = []

  for (let round = 0; round < rounds; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length] as ContenderName)
    for (const name of order) {
      const namespace = `bench-nest-${randomUUID().slice(0, 8)}`
      namespaces.push(namespace)
      const app = await startContender(name, redisUrl, namespace).catch((error: Error) => {
        failures.set(name, error.message.split('\n')[0] ?? 'failed to start')
        return undefined
      })
      if (app === undefined) continue
      try {
        // A fresh process's first measured route was seen slower even after the warm-up: the
        // route order alternates with the round, so that cost falls on each route in turn.
        const routes = routesOf(name)
        if (round % 2 === 1) routes.reverse()
        for (const route of routes) await fill(app.url, route.path)
        for (const route of routes) await warm(app.url, route.path, quick ? 0.5 : 2, connections)
        for (const route of routes) {
          const key = `${name}/${route.path}`
          const measured = await measure(app.url, route.path, { seconds, connections })
          figures.set(key, [...(figures.get(key) ?? []), measured])
          console.log(
            `[nest-cache-manager] round ${round + 1}/${rounds} ${key}: ${Math.round(measured.requestsPerSec)} req/s, mean ${measured.meanMs} ms, p99 ${measured.p99Ms} ms, non-2xx ${measured.non2xx}, errors ${measured.errors}`,
          )
        }
      } catch (error) {
        failures.set(name, (error as Error).message.split('\n')[0] ?? 'failed')
      } finally {
        await app.stop()
      }
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
    const base = figures.get(`${BASELINE}/${route.path}`) ?? []
    const baseRps = median(base.map((f) => f.requestsPerSec))
    const baseMean = median(base.map((f) => f.meanMs))
    for (const name of names) {
      if (!routesOf(name).includes(route)) continue
      const rowName = `${CONTENDERS[name].label}, ${route.label}`
      const runs = figures.get(`${name}/${route.path}`) ?? []
      if (runs.length === 0) {
        rows.push(emptyRow(rowName, 'error', failures.get(name) ?? 'no run'))
        continue
      }
      const rps = median(runs.map((f) => f.requestsPerSec))
      const p50 = median(runs.map((f) => f.p50Ms))
      const mean = median(runs.map((f) => f.meanMs))
      const bad = runs.reduce((sum, f) => sum + f.non2xx + f.errors, 0)
      rows.push({
        name: rowName,
        p50Us: p50 * 1_000,
        p99Us: median(runs.map((f) => f.p99Ms)) * 1_000,
        opsPerSec: rps,
        // autocannon's p50 is whole milliseconds (0 for a sub-ms hit): the ratio is of the means.
        ratioToBaseline: mean / baseMean,
        samples: runs.reduce((sum, f) => sum + f.requests, 0),
        status: 'ok',
        note: `mean ${mean.toFixed(2)} ms; ${(rps / baseRps).toFixed(2)}x the baseline's req/s${bad > 0 ? `; ${bad} non-2xx or errors` : ''}`,
      })
      summary[`${name}/${route.path}`] = { rps, meanMs: mean, p50Ms: p50, runs }
    }
  }
  const rpsRatio = (route: string) =>
    median((figures.get(`ayala-drop-in/${route}`) ?? []).map((f) => f.requestsPerSec)) /
    median((figures.get(`${BASELINE}/${route}`) ?? []).map((f) => f.requestsPerSec))
  return writeResult(
    'nest-cache-manager',
    `The same Nest route: @nestjs/cache-manager vs the @ayala drop-in (HTTP, autocannon, ${connections} connections)`,
    rows,
    `${CONTENDERS[BASELINE].label} (per route)`,
    {
      description:
        'Hits only: every one of the 200 keys was requested once before the load, then every route was loaded 2 s unmeasured. One process per contender and round for the Nest app (Express), autocannon in the benchmark process; median of the rounds. p50 / baseline and req/s ratios compare each route with the same route of the baseline, measured in the same run.',
      goals: [
        ratioGoal('drop-in req/s vs Keyv Redis, CacheInterceptor', rpsRatio('invoices'), 1, true),
        ratioGoal('drop-in req/s vs Keyv Redis, wrap()', rpsRatio('wrapped'), 1, true),
      ],
      notes: [
        `${rounds} round(s) x ${seconds} s per contender and route, ${connections} connections, ${KEYS} keys cycled; the Redis is the harness's (loopback)`,
        "latency is autocannon's per-response time (Express, Nest, the interceptor or wrap, the cache), p50/p99 in whole milliseconds; the p50 / baseline column is the ratio of the mean latencies (two decimals); the machine is shared, so compare ratios within this run",
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
