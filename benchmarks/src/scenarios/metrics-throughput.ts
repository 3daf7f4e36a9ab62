/**
 * Scenario: throughput with no reads. The exactly-once consumer (defaults, 500-event chunks,
 * kafkajs fetch variants), then a naive kafkajs `eachMessage` consumer doing the same increments
 * (HINCRBY/ZINCRBY/PFADD) in one pipeline per message with no offsets in Redis (at-least-once),
 * then the apply path alone fed from memory. Each consumer runs in its own child process
 * (`../metrics/child.ts`); events/s are counted from its first applied chunk to its last, so the
 * group join is not timed. The child also reports the share of that time during which no batch
 * handler was running (waiting on kafkajs: fetch and record decoding).
 *
 * Entity mode (`defineView({ entity })`, upserts by version: one HMGET per chunk and a
 * compare-and-set on the stored versions) runs in the throughput rounds and the apply-path rows
 * side by side with delta mode (`rows`), on the same backlog (each event carries its version).
 *
 * Result: `metrics-throughput`, with the event-to-dashboard latency row of `metrics-latency` (the
 * suffixes of `../metrics/settings.ts` appended). Section 2 of `metrics-stream`, which runs it
 * after the other two in the same set-up; `pnpm bench metrics-throughput` runs it alone, as
 * METRICS_BENCH_SECTIONS=throughput does (`metrics-throughput-throughput-only`, no latencies).
 */

import { applyPathRate } from '../metrics/apply-path.js'
import { type MetricsBench, openMetricsBench } from '../metrics/bench.js'
import type { ChildReport, ConsumerSpec } from '../metrics/child.js'
import { DEFAULT_BUDGET, DEFAULT_CHUNK, PARTITIONS, PIN, REPLICA } from '../metrics/settings.js'
import { spawnChild, stop } from '../metrics/spawn.js'
import { loadAverage } from '../metrics/stats.js'
import { type ResultRow, ratioGoal, type ScenarioResult, writeResult } from '../report.js'
import { latencyGoal, liveLatencyRow } from './metrics-latency.js'

/**
 * The throughput rounds, the naive consumer and the apply path; the `metrics-throughput` result
 * with `latencies` (ms, of `measureLatency`), or `-throughput-only` when they were not measured.
 */
export async function measureThroughput(
  bench: MetricsBench,
  latencies: number[] | undefined,
): Promise<ScenarioResult> {
  const { quick, total, namespace, backlog, loadAtStart, pinned, resultSuffix } = bench
  // 2. Throughput without reads.
  const throughput = async (spec: ConsumerSpec): Promise<ChildReport> => {
    const spawned = spawnChild('ours', bench.env(spec))
    bench.children.push(spawned)
    const report = await spawned.done
    await stop(spawned.process)
    await bench.redis.flushall()
    return report
  }
  // Rounds, order rotated, so the chunk sizings share the load drift; mean events/s.
  const ENTITY = 'entity mode (upserts by version), defaults'
  const sizings: Array<[string, ConsumerSpec]> = [
    ['defaults', {}],
    [ENTITY, { entity: true }],
    ['scriptBudget 0.5 ms (chunkSize <= 500)', { chunkSize: 500, budget: 0.5 }],
    ['fixed chunks of 500', { chunkSize: 500, budget: 'off' }],
    ['fixed chunks of 200 (the previous default)', { chunkSize: 200, budget: 'off' }],
    [
      'scriptBudget 0.1 ms, one script in flight (maxScriptsInFlight 1)',
      { chunkSize: 500, budget: 0.1, scriptsInFlight: 1 },
    ],
  ]
  const sized = new Map<string, ChildReport[]>()
  const throughputRounds = quick ? 1 : 3
  for (let round = 0; round < throughputRounds; round++) {
    const order = [...sizings.slice(round), ...sizings.slice(0, round)]
    for (const [label, spec] of quick ? order.slice(0, 2) : order) {
      sized.set(label, [...(sized.get(label) ?? []), await throughput(spec)])
    }
  }
  const meanReport = (reports: ChildReport[]): ChildReport & { rates: number[] } => {
    const mean = (f: (r: ChildReport) => number) => reports.reduce((s, r) => s + f(r), 0) / reports.length
    return {
      eventsPerSec: mean((r) => r.eventsPerSec),
      applied: mean((r) => r.applied),
      cpuCores: mean((r) => r.cpuCores),
      waitingShare: mean((r) => r.waitingShare),
      batches: Math.round(mean((r) => r.batches)),
      chunks: Math.round(mean((r) => r.chunks)),
      rates: reports.map((r) => r.eventsPerSec),
    }
  }
  const oursDefault = meanReport(sized.get('defaults') as ChildReport[])
  const fetchVariants: Array<[string, ConsumerSpec]> = [
    ['kafkajs maxBytesPerPartition 4 MB (default 1 MB)', { fetch: { maxBytesPerPartition: 4_194_304 } }],
    ['kafkajs maxBytesPerPartition 256 KB', { fetch: { maxBytesPerPartition: 262_144 } }],
    ['partitionsConsumedConcurrently 1 (default 4)', { partitionsConsumedConcurrently: 1 }],
  ]
  const variants: Array<[string, ChildReport]> = []
  for (const [label, spec] of quick ? [] : fetchVariants) variants.push([label, await throughput(spec)])

  const naive = spawnChild('naive', bench.env({}))
  bench.children.push(naive)
  const naiveRate = (await naive.done).eventsPerSec
  await stop(naive.process)
  await bench.redis.flushall()

  // The apply path alone, in this process (children stopped).
  const applyDefault = await applyPathRate(bench.server.url, backlog, `${namespace}-mem1`, {})
  await bench.redis.flushall()
  const apply500 = await applyPathRate(bench.server.url, backlog, `${namespace}-mem2`, {
    batchSize: 500,
    scriptBudget: Number.POSITIVE_INFINITY,
  })
  await bench.redis.flushall()
  const applyEntity = await applyPathRate(bench.server.url, backlog, `${namespace}-mem3`, { entity: true })
  await bench.redis.flushall()
  const entityReport = sized.has(ENTITY) ? meanReport(sized.get(ENTITY) as ChildReport[]) : undefined

  const perEvent = (rate: number) => 1e6 / rate
  const NAIVE = 'naive kafkajs eachMessage, one pipeline per message (at-least-once)'
  const oursRow = (name: string, report: ChildReport & { rates?: number[] }): ResultRow => ({
    name,
    p50Us: perEvent(report.eventsPerSec),
    p99Us: Number.NaN,
    opsPerSec: report.eventsPerSec,
    ratioToBaseline: perEvent(report.eventsPerSec) / perEvent(naiveRate),
    note: `${report.rates ? `mean of ${report.rates.map((r) => Math.round(r).toLocaleString('en')).join(' / ')} ev/s; ` : ''}consumer ${report.cpuCores.toFixed(2)} cores; no handler running ${(report.waitingShare * 100).toFixed(0)}% of the time; ${report.batches} batches, ${report.chunks} scripts (${Math.round(report.applied / Math.max(1, report.chunks))} ev each)`,
  })
  const OURS = `@ayala/metrics-stream consumer, exactly-once, defaults (chunkSize <= ${DEFAULT_CHUNK}, scriptBudget ${DEFAULT_BUDGET})`
  const throughputRows: ResultRow[] = [
    {
      name: NAIVE,
      p50Us: perEvent(naiveRate),
      p99Us: Number.NaN,
      opsPerSec: naiveRate,
      ratioToBaseline: 1,
    },
    oursRow(OURS, oursDefault),
    ...sizings
      .slice(1)
      .filter(([label]) => sized.has(label))
      .map(([label]) =>
        oursRow(`@ayala/metrics-stream consumer, exactly-once, ${label}`, meanReport(sized.get(label) ?? [])),
      ),
    ...variants.map(([label, report]) => oursRow(`@ayala/metrics-stream consumer, ${label}`, report)),
    ...[
      ['defaults', applyDefault] as const,
      ['fixed chunks of 500', apply500] as const,
      ['entity mode, defaults', applyEntity] as const,
    ].map(
      ([label, rate]): ResultRow => ({
        name: `@ayala/metrics-stream apply path alone (in-memory Source, no Kafka fetch), ${label}`,
        p50Us: perEvent(rate),
        p99Us: Number.NaN,
        opsPerSec: rate,
        ratioToBaseline: perEvent(rate) / perEvent(naiveRate),
      }),
    ),
    liveLatencyRow(latencies ?? []),
  ]
  return writeResult(
    `metrics-throughput${resultSuffix}${latencies ? '' : '-throughput-only'}`,
    `metrics-stream: events applied per second, one consumer process${PIN ? ' (Redis on a CPU of its own)' : ''}`,
    throughputRows,
    NAIVE,
    {
      description: `${total.toLocaleString('en')} invoice events (a third corrections) on ${PARTITIONS} partitions, applied to a private redis-server; each consumer in its own process, nothing reading meanwhile; "p50" of the consumer rows is the mean time per event. Load average at start ${loadAtStart}, at the end ${loadAverage()}.${pinned}${REPLICA ? ' The reads go to a replica of the primary the consumer applies to (redis-server --replicaof); the server times and Redis CPU above include both servers.' : ''}`,
      goals: [
        ratioGoal(
          'exactly-once events/s vs the naive consumer',
          oursDefault.eventsPerSec / naiveRate,
          1,
          true,
        ),
        ratioGoal('exactly-once events/s vs 50,000/s', oursDefault.eventsPerSec / 50_000, 1, true),
        ratioGoal('exactly-once apply path alone vs 50,000/s', applyDefault / 50_000, 1, true),
        ratioGoal(
          'entity-mode events/s vs 50,000/s',
          (entityReport?.eventsPerSec ?? Number.NaN) / 50_000,
          1,
          true,
        ),
        latencyGoal(latencies ?? []),
      ],
      notes: [
        '"no handler running": share of the applying window during which the consumer had no batch in hand, i.e. waited on kafkajs (fetch, record decoding, group bookkeeping).',
        `entity mode / delta mode, both with the defaults, same backlog (every event carries its version): consumer ${entityReport ? (entityReport.eventsPerSec / oursDefault.eventsPerSec).toFixed(2) : 'n/a'}x events/s (mean of the same rounds), apply path alone ${(applyEntity / applyDefault).toFixed(2)}x. Entity mode adds one HMGET round trip per chunk and an HMGET + HSET of the chunk's entities inside the script.`,
      ],
    },
  )
}

/** `pnpm bench metrics-throughput`: the throughput rows alone (no reads, no live latency). */
export async function run(): Promise<ScenarioResult> {
  const bench = await openMetricsBench()
  try {
    return await measureThroughput(bench, undefined)
  } finally {
    await bench.close()
  }
}
