/**
 * The soak's sampling: while the load runs, every `SOAK_SAMPLE_INTERVAL` seconds one window is
 * recorded (statuses and client errors, p50/p99 per endpoint, the app's memory, CPU and event-loop
 * delay from its probe, with a full GC first every `SOAK_GC_INTERVAL` s for the live heap, the cache
 * and outbox figures of one `/metrics` scrape, `/health`, the load average) and printed as one line.
 * An app that exits stops the load at once: the run is then a crash (`crashed` says how it ended).
 * `SOAK_SABOTAGE=kill-app` SIGKILLs the app half-way, to prove a crash fails the soak.
 */
import { once } from 'node:events'
import { loadavg } from 'node:os'
import { percentile } from '../report.js'
import type { AppProcess, ProbeSample } from './app-process.js'
import type { Example } from './example.js'
import { fixed, MB, merge, pct, sum } from './figures.js'
import type { RunningLoad, Tally } from './load.js'
import { diffRoutes, healthStatus, type Scrape, scrape } from './scrape.js'
import type { SoakSettings } from './settings.js'

/** One sampling window. */
export interface Sample {
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

function windowStats(tally: Tally) {
  const sorted = [...tally.latenciesMs].sort((a, b) => a - b)
  return { n: sorted.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) }
}

/** What the sampling recorded. */
export interface Sampling {
  samples: Sample[]
  /** How the app ended during the load, when it did (a crash). */
  crashed: string | undefined
}

/**
 * Sample the app until the load ends (or the app exits). `idle` and `started` are the probe and
 * the scrape taken before the load: the first window's CPU and cache figures are counted from them.
 */
export async function sampleRun(options: {
  config: SoakSettings
  example: Example
  app: AppProcess
  load: RunningLoad
  loadStarted: number
  idle: ProbeSample | undefined
  started: Scrape | undefined
}): Promise<Sampling> {
  const { config, example, app, load, loadStarted, idle, started } = options
  let ended = false
  void load.done.then(() => {
    ended = true
  })
  const samples: Sample[] = []
  let previousProbe = idle
  let previousScrape = started
  let crashed: string | undefined
  while (!ended) {
    const waitUntil = loadStarted + (samples.length + 1) * config.intervalS * 1_000
    while (!ended && Date.now() < waitUntil && app.exited() === undefined) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, Math.max(1, waitUntil - Date.now()))))
    }
    if (app.exited() !== undefined) {
      crashed = app.exited()
      load.stop()
      await load.done
      break
    }
    const t = (Date.now() - loadStarted) / 1_000
    if (config.sabotage === 'kill-app' && t >= config.durationS / 2 && app.exited() === undefined) {
      console.log(`[soak] SOAK_SABOTAGE=kill-app: SIGKILL to the app (pid ${app.pid}) at t=${t.toFixed(0)}s`)
      const exit = once(app.child, 'exit')
      app.child.kill('SIGKILL')
      await exit
      continue
    }
    const windows = load.endpoints.map((endpoint) => [endpoint.spec.name, endpoint.takeWindow()] as const)
    // Every gcIntervalS, the probe runs a full GC first: the live heap over time.
    const gc = Math.floor(t / config.gcIntervalS) > Math.floor((samples.at(-1)?.t ?? 0) / config.gcIntervalS)
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
  return { samples, crashed }
}
