/**
 * Scenario: `@ayala/metrics-stream` under load, against a naive consumer, all measured in one run,
 * on a private redis-server started by the scenario (so SLOWLOG can time every command on the
 * server without touching the shared Redis). Its three sections are scenarios of their own, run
 * here in one set-up (one topic and backlog, one private Redis: `../metrics/bench.ts`):
 *
 * 1. `metrics-dashboard.ts`: dashboard reads while a consumer process applies the backlog at full
 *    speed, the chunk-size sweep and the same-weight CPU control. Result `metrics-dashboard`.
 * 2. `metrics-throughput.ts`: events/s of the exactly-once consumer (delta and entity mode)
 *    against a naive kafkajs consumer, and of the apply path alone. Result `metrics-throughput`.
 * 3. `metrics-latency.ts`: event-to-dashboard latency, events produced live through a caught-up
 *    consumer; its row and goal are part of the `metrics-throughput` result.
 *
 * They run in the order 1, 3, 2 (the throughput result is written first, then the dashboard's).
 *
 * Setups (environment, `../metrics/settings.ts`): METRICS_BENCH_PIN_REDIS=1 (Redis on a CPU of its
 * own), METRICS_BENCH_READ_REPLICA=1 (reads from a replica), METRICS_BENCH_CHILD_NICE=N.
 * METRICS_BENCH_SECTIONS=throughput runs the throughput section only (no read phases, no live
 * latency), as `pnpm bench metrics-throughput` does.
 */
import { openMetricsBench } from '../metrics/bench.js'
import { READS } from '../metrics/settings.js'
import type { ScenarioResult } from '../report.js'
import { measureReads, writeDashboardResult } from './metrics-dashboard.js'
import { measureLatency } from './metrics-latency.js'
import { measureThroughput } from './metrics-throughput.js'

/** The three sections in one set-up; returns the `metrics-throughput` result. */
export async function run(): Promise<ScenarioResult> {
  const bench = await openMetricsBench()
  try {
    const reads = READS ? await measureReads(bench) : undefined
    const latencies = READS ? await measureLatency(bench) : undefined
    const result = await measureThroughput(bench, latencies)
    if (reads) writeDashboardResult(bench, reads)
    return result
  } finally {
    await bench.close()
  }
}
