/**
 * Scenario: event-to-dashboard latency. With a default consumer caught up on the backlog, events
 * are produced live (~2,000/s); for every change notice, now minus the oldest record timestamp of
 * the chunk (producer create time), i.e. the worst event of each chunk.
 *
 * Section 3 of `metrics-stream`, whose `metrics-throughput` result carries the latency row and its
 * goal; `pnpm bench metrics-latency` runs it alone and writes that row and goal as
 * `metrics-latency` (with the suffixes of `../metrics/settings.ts`).
 */
import { type MetricsBench, openMetricsBench } from '../metrics/bench.js'
import { makeEvents } from '../metrics/events.js'
import { PIN } from '../metrics/settings.js'
import { spawnChild, stop } from '../metrics/spawn.js'
import { latencyRow, pct } from '../metrics/stats.js'
import { type ResultRow, ratioGoal, type ScenarioResult, writeResult } from '../report.js'

const LATENCY_ROW = 'event-to-dashboard latency (record timestamp -> change notice)'

/** Live events through a caught-up default consumer: ms from record timestamp to change notice. */
export async function measureLatency(bench: MetricsBench): Promise<number[]> {
  const { quick, total, events } = bench
  const latencies: number[] = []
  // A default consumer that has applied the backlog, for the live latency.
  const liveEnv = bench.env({})
  const live = spawnChild('ours', liveEnv)
  bench.children.push(live)
  await live.done
  const liveNs = liveEnv.BENCH_NS

  // 3 (the live consumer is caught up): live events, record timestamp to change notice.
  const { fromRedis } = bench.dashboardsOf(liveNs)
  const phaseStart = Date.now()
  const unsubscribe = await fromRedis.onChange((notice) => {
    if (notice.oldestEventAt >= phaseStart) latencies.push(Date.now() - notice.oldestEventAt)
  })
  const liveMs = quick ? 1_000 : 6_000
  let n = total
  while (Date.now() - phaseStart < liveMs) {
    const batch = makeEvents(50, n)
    n += 50
    await events.send(batch)
    await new Promise((done) => setTimeout(done, 25))
  }
  const deadline = Date.now() + 10_000
  while (latencies.length === 0 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50))
  unsubscribe()
  await stop(live.process)
  await bench.redis.flushall()
  return latencies
}

/** The row of the latencies (ms per change notice). */
export function liveLatencyRow(latencies: number[]): ResultRow {
  return latencyRow(LATENCY_ROW, latencies, 'p50/p99 per chunk, worst event')
}

/** The goal on the latencies: p99 within 1 s. */
export function latencyGoal(latencies: readonly number[]) {
  return ratioGoal(
    'event-to-dashboard p99 vs 1 s',
    pct(
      [...latencies].sort((a, b) => a - b),
      0.99,
    ) / 1_000,
    1,
  )
}

/** `pnpm bench metrics-latency`: the live latency alone. */
export async function run(): Promise<ScenarioResult> {
  const bench = await openMetricsBench()
  try {
    const latencies = await measureLatency(bench)
    const row = liveLatencyRow(latencies)
    row.ratioToBaseline = 1
    return writeResult(
      `metrics-latency${bench.resultSuffix}`,
      `metrics-stream: event-to-dashboard latency, one consumer process${PIN ? ' (Redis on a CPU of its own)' : ''}`,
      [row],
      LATENCY_ROW,
      {
        description: `Events produced live (~2,000/s) after a default consumer process applied a ${bench.total.toLocaleString('en')}-event backlog on a private redis-server; per change notice, now minus the oldest record timestamp of its chunk. Load average at start ${bench.loadAtStart}.${bench.pinned}`,
        goals: [latencyGoal(latencies)],
      },
    )
  } finally {
    await bench.close()
  }
}
