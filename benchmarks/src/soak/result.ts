/**
 * The soak's result: the run's figures (statuses, the app's memory over the second half as a
 * least-squares slope, cache hits by tier and route, the outbox backlog, /health, the log lines),
 * the verdict (a crash, a 5xx or a copy that differs from SQL fails the run; a timing never does),
 * the notes and the over-time tables of the report, and the JSON data, written with `writeResult`.
 */
import { availableParallelism, cpus } from 'node:os'
import { percentile, type ResultRow, type ScenarioResult, writeResult } from '../report.js'
import type { ProbeSample } from './app-process.js'
import { counts, fixed, MB, merge, pct, slope, sum } from './figures.js'
import type { EndpointLoad, EndpointSpec } from './load.js'
import type { Sample } from './sampling.js'
import { diffRoutes, type Scrape } from './scrape.js'
import type { SoakSettings } from './settings.js'
import type { Verification } from './verify.js'

/** The row every endpoint's p50 is divided by: the cached read of one hot invoice. */
export const SOAK_BASELINE_ROW = 'GET /invoices/:id (hot)'

/**
 * The endpoints' rows: whole-run p50/p99 (per response, ms -> us), achieved rate, statuses;
 * `ratioToBaseline` is the row's p50 over the hot invoice read's p50 of the same run (what the
 * regression report compares).
 */
function endpointRows(endpoints: readonly EndpointLoad[], seconds: number): ResultRow[] {
  // Each endpoint's latencies sorted once: its row and, for the hot read, the ratios' divisor.
  const sortedOf = endpoints.map((endpoint) => [...endpoint.total.latenciesMs].sort((a, b) => a - b))
  const baseIndex = endpoints.findIndex((endpoint) => endpoint.spec.name === SOAK_BASELINE_ROW)
  const baseP50 = baseIndex < 0 ? Number.NaN : percentile(sortedOf[baseIndex] as number[], 0.5)
  return endpoints.map((endpoint, i) => {
    const sorted = sortedOf[i] as number[]
    const corrected = endpoint.result?.latency
    const errors =
      Object.keys(endpoint.total.errors).length > 0 ? `; client errors ${counts(endpoint.total.errors)}` : ''
    return {
      name: endpoint.spec.name,
      p50Us: percentile(sorted, 0.5) * 1_000,
      p99Us: percentile(sorted, 0.99) * 1_000,
      opsPerSec: sorted.length / seconds,
      ratioToBaseline: percentile(sorted, 0.5) / baseP50,
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

/** Everything a finished run recorded, as the report needs it. */
export interface SoakRun {
  config: SoakSettings
  /** `git status --porcelain` lines under the example and the packages at the start. */
  dirty: readonly string[]
  seedMs: number
  /** Milliseconds per seed phase (database, search, kafka). */
  timings: Record<string, number>
  appPid: number
  mix: readonly EndpointSpec[]
  endpoints: readonly EndpointLoad[]
  loadSeconds: number
  samples: readonly Sample[]
  /** The probe before the load (after a full GC) and right after it. */
  idle: ProbeSample | undefined
  live: ProbeSample | undefined
  /** The `/metrics` scrapes before and after the load. */
  started: Scrape | undefined
  finished: Scrape | undefined
  loadAvgStart: number
  loadAvgEnd: number
  crashed: string | undefined
  verification: Verification | undefined
  verifyError: string | undefined
  logs: Record<string, number>
  notable: readonly string[]
}

/** Write the run's result; `failures` is empty when the soak passed. */
export function reportRun(run: SoakRun): { result: ScenarioResult; failures: string[] } {
  const {
    config,
    dirty,
    seedMs,
    timings,
    appPid,
    mix,
    endpoints,
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
  } = run
  // Figures of the run.
  const totalStatuses: Record<string, number> = {}
  const totalErrors: Record<string, number> = {}
  for (const endpoint of endpoints) {
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
    liveSamples.filter((s) => s.t >= loadSeconds / 2).map((s) => [s.t / 60, s.liveHeapMb as number] as const),
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
    `Dataset: ${config.invoices.toLocaleString('en')} invoices seeded in ${(seedMs / 1_000).toFixed(1)} s (MariaDB ${timings.database} ms, search ${timings.search} ms, Kafka ${timings.kafka} ms); the app as its own process (pid ${appPid}).`,
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
    endpointRows(endpoints, loadSeconds),
    SOAK_BASELINE_ROW,
    {
      description:
        'The app as its own process, seeded, under the mix of `benchmarks/src/soak/load.ts` (autocannon, one instance per endpoint, fixed rates) plus one SSE subscriber; sampled over time; then the outbox drained and every copy compared with SQL. Fails only on a crash, a 5xx or a copy that differs from SQL. One row per endpoint: p50/p99 per response over the whole run, ops/s = the achieved rate, "p50 / baseline" = the row\'s p50 over the hot invoice read\'s p50 of the same run.',
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
        ratios: soakRatios(
          endpoints,
          loadSeconds,
          rss,
          lookups === 0 ? Number.NaN : (cacheRun.l1Hits + cacheRun.l2Hits) / lookups,
        ),
      },
    },
  )
  return { result, failures }
}

/**
 * The soak's own ratios for the regression report, beside the rows' p50 / hot-read p50: per
 * endpoint the achieved rate over its target (1 when the app kept up), the app's memory at the
 * end of the load over the start (RSS: last sample / first; live heap after a full GC: after the
 * load / before it) and the share of cache lookups served by L1 or L2.
 */
function soakRatios(
  endpoints: readonly EndpointLoad[],
  seconds: number,
  rss: { firstMb: number; lastMb: number; liveHeapIdleMb: number; liveHeapAfterMb: number },
  hitShare: number,
): Record<string, number> {
  const out: Record<string, number> = {}
  for (const endpoint of endpoints)
    out[`${endpoint.spec.name}: achieved / target rate`] =
      endpoint.total.latenciesMs.length / seconds / endpoint.rate
  out['app RSS: end of load / first sample'] = rss.lastMb / rss.firstMb
  out['app live heap after a full GC: after the load / before'] = rss.liveHeapAfterMb / rss.liveHeapIdleMb
  out['cache lookups served by L1 or L2 / all'] = hitShare
  for (const [name, value] of Object.entries(out)) if (!Number.isFinite(value) || value <= 0) delete out[name]
  return out
}
