/**
 * Scenario: dashboard reads while a consumer process applies a backlog of invoice events (a third
 * of them corrections carrying their previous state) at full speed, on a private redis-server
 * started by the run (so SLOWLOG can time every command on the server without touching the shared
 * Redis): all figures of the view in one MULTI round trip, sequential awaits in this (parent)
 * process, counted only between the consumer's first and last applied chunk. Next to each read
 * row: the server-side time of the apply scripts (SLOWLOG, threshold 0) and the CPU used by the
 * consumer process and by Redis. Phases: nothing running (idle); the consumer with chunks of
 * 50/100/200/500 events and with the library's defaults (the chunk-size sweep: throughput vs read
 * p99 in the same run); and a control: CPU burners of the same weight as the 500-event consumer
 * phase (consumer process + Redis CPU), writing nothing to Redis, so the reader gets the same
 * share of the machine and any difference is Redis blocking, not scheduling.
 *
 * Result: `metrics-dashboard` (with `-read-replica`, `-redis-own-cpu` for the setups of
 * `../metrics/settings.ts`). Section 1 of `metrics-stream`, which runs it in the same set-up as
 * the other two; `pnpm bench metrics-dashboard` runs it alone.
 */
import { cpus } from 'node:os'
import { type MetricsBench, openMetricsBench } from '../metrics/bench.js'
import type { ConsumerSpec } from '../metrics/child.js'
import { consumerPhase, controlPhase, mergePhases, type ReadPhase, readPhase } from '../metrics/read-phase.js'
import { DEFAULT_BUDGET, DEFAULT_CHUNK, PIN, REPLICA } from '../metrics/settings.js'
import { stop } from '../metrics/spawn.js'
import { latencyRow, loadAverage, spread } from '../metrics/stats.js'
import { type ResultRow, ratioGoal, type ScenarioResult, writeResult } from '../report.js'

const SWEEP = [50, 100, 200, 500]
const BUDGETS = [0.25, 0.5, 1]
const ROUNDS = 2
const DEFAULTS = `library defaults (chunkSize <= ${DEFAULT_CHUNK}, scriptBudget ${DEFAULT_BUDGET})`

/** Every phase's rounds, by label, and how many rounds ran. */
export interface DashboardReads {
  merged: Map<string, ReadPhase[]>
  rounds: number
}

/** The read phases, in rounds. */
export async function measureReads(bench: MetricsBench): Promise<DashboardReads> {
  const { quick } = bench
  // 1. Reads, in rounds (order rotated each round, samples merged) so that every phase sees the
  //    same drift of the machine's load: idle, the sweep, the defaults (with the in-process
  //    copy), then the CPU-weight control of the round's fixed-500 phase.
  // Quick mode (CI smoke) keeps one sizing of each kind: the code paths, not the sweep.
  const allPhases: Array<[string, ConsumerSpec]> = [
    ...SWEEP.map((chunkSize): [string, ConsumerSpec] => [
      `fixed chunks of ${chunkSize}`,
      { chunkSize, budget: 'off' },
    ]),
    [
      'fixed chunks of 500, one partition at a time',
      { chunkSize: 500, budget: 'off', partitionsConsumedConcurrently: 1 },
    ],
    ...BUDGETS.map((budget): [string, ConsumerSpec] => [
      `scriptBudget ${budget} ms (chunkSize <= 500)`,
      { chunkSize: 500, budget },
    ]),
    [
      `scriptBudget ${DEFAULT_BUDGET}, one script in flight (maxScriptsInFlight 1)`,
      { chunkSize: 500, scriptsInFlight: 1 },
    ],
    [
      'scriptBudget 0.1 ms, one script in flight (maxScriptsInFlight 1)',
      { chunkSize: 500, budget: 0.1, scriptsInFlight: 1 },
    ],
  ]
  const phases = quick
    ? allPhases.filter(([label]) => label === 'fixed chunks of 500' || label.startsWith('scriptBudget 0.5'))
    : allPhases
  const merged = new Map<string, ReadPhase[]>()
  const add = (p: ReadPhase) => merged.set(p.label, [...(merged.get(p.label) ?? []), p])
  const rounds = quick ? 1 : ROUNDS
  for (let round = 0; round < rounds; round++) {
    const order = [...phases.slice(round % phases.length), ...phases.slice(0, round % phases.length)]
    for (const [label, spec] of order) {
      const phase = consumerPhase(bench, label, spec)
      add(await phase.result)
      const spawned = phase.child()
      if (spawned) await stop(spawned.process)
      await bench.redis.flushall()
    }
    const defaults = consumerPhase(bench, DEFAULTS, {}, true)
    const main = await defaults.result
    add(main)
    const spawned = defaults.child()
    if (spawned) await stop(spawned.process)
    // The controls read the same figures (the defaults' namespace, fully applied).
    add(
      await readPhase(
        bench,
        'nothing else running',
        main.ns,
        async () => ({
          applying: Promise.resolve(),
          over: new Promise<undefined>((done) => setTimeout(() => done(undefined), quick ? 300 : 1_500)),
        }),
        false,
      ),
    )
    const heavy = merged.get('fixed chunks of 500')?.[round] as ReadPhase
    add(
      await controlPhase(
        bench,
        "CPU burners of the fixed-500 phase's weight, no Redis writes",
        main.ns,
        heavy.weight,
        quick ? 500 : 2_000,
      ),
    )
    await bench.redis.flushall()
  }
  return { merged, rounds }
}

/** The `metrics-dashboard` result, from the merged rounds. */
export function writeDashboardResult(bench: MetricsBench, reads: DashboardReads): ScenarioResult {
  const { merged, rounds } = reads
  const { total, loadAtStart, pinned, resultSuffix } = bench
  const all = [...merged.values()].map(mergePhases)
  const find = (label: string) => all.find((p) => p.label === label) as ReadPhase
  const main = find(DEFAULTS)
  const idle = find('nothing else running')
  const control = find("CPU burners of the fixed-500 phase's weight, no Redis writes")
  const heavy = find('fixed chunks of 500')
  const readName = (p: ReadPhase) => `dashboard read from Redis, ${p.label}`
  const readNote = (p: ReadPhase) => {
    const parts = [`max ${(Math.max(...p.reads) * 1_000).toFixed(0)} us`]
    if (p.report) {
      parts.push(
        `consumer ${Math.round(p.report.eventsPerSec).toLocaleString('en')} ev/s`,
        `apply scripts on the server p50/p99/max ${spread(p.scripts)} (${p.scripts.length} scripts, ${Math.round(p.report.applied / Math.max(1, p.report.chunks))} ev each)`,
        `CPU: consumer ${p.report.cpuCores.toFixed(2)} + Redis ${p.redisCores.toFixed(2)} cores`,
      )
    } else parts.push(`CPU: burners ${(p.burnt ?? 0).toFixed(2)} + Redis ${p.redisCores.toFixed(2)} cores`)
    parts.push(
      `one read on the server p50/p99 ${spread(p.execs)}`,
      `machine ${p.machineCores.toFixed(2)} of ${cpus().length} cores busy, load ${p.load}`,
    )
    return parts.join('; ')
  }
  const readRows: ResultRow[] = [
    latencyRow(readName(main), main.reads, readNote(main)),
    latencyRow(
      `dashboard read from the push-invalidated in-process copy, ${main.label}`,
      main.cachedReads,
      'same phases as the row above',
    ),
    latencyRow(readName(idle), idle.reads, readNote(idle)),
    latencyRow(readName(control), control.reads, readNote(control)),
    ...all
      .filter((p) => p !== main && p !== idle && p !== control)
      .map((p) => latencyRow(readName(p), p.reads, readNote(p))),
  ]
  const base = readRows[0] as ResultRow
  for (const row of readRows) row.ratioToBaseline = row.p50Us / base.p50Us
  const heavyRow = readRows.find((row) => row.name === readName(heavy)) as ResultRow
  const controlRow = readRows[3] as ResultRow
  return writeResult(
    `metrics-dashboard${resultSuffix}`,
    `metrics-stream: dashboard reads during full-speed apply${REPLICA ? ', read from a replica' : ''}${PIN ? ` (${REPLICA ? 'the replica' : 'Redis'} on a CPU of its own)` : ''}`,
    readRows,
    base.name,
    {
      description: `All 5 figures of the view (7 day buckets) per read, sequential awaits in the reading process, counted while another process applies the ${total.toLocaleString('en')}-event backlog (from its first applied chunk to its last), on a private redis-server with SLOWLOG timing every command (server times below are SLOWLOG's). ${rounds} rounds, phase order rotated each round, samples merged. The sweep rows change only the consumer's chunk sizing; the control row replaces the consumer by busy-looping processes of the same CPU weight as the fixed-500 consumer phase of the same round (consumer process + Redis) that touch no network, so the reader has the same share of the machine without any script to wait behind; both control rows read the figures the defaults phase of the same round had just applied. Load average at start ${loadAtStart}, at the end ${loadAverage()}.${pinned}${REPLICA ? ' The reads go to a replica of the primary the consumer applies to (redis-server --replicaof); the server times and Redis CPU above include both servers.' : ''}`,
      goals: [
        ratioGoal('Redis read p99 vs 1 ms, library defaults', base.p99Us / 1_000, 1),
        ratioGoal(
          'read p99, fixed 500-event chunks vs the same-weight CPU control',
          heavyRow.p99Us / controlRow.p99Us,
          1,
        ),
        ratioGoal(
          'read p99, library defaults vs the same-weight CPU control',
          base.p99Us / controlRow.p99Us,
          1,
        ),
      ],
    },
  )
}

/** `pnpm bench metrics-dashboard`: the read phases alone. */
export async function run(): Promise<ScenarioResult> {
  const bench = await openMetricsBench()
  try {
    return writeDashboardResult(bench, await measureReads(bench))
  } finally {
    await bench.close()
  }
}
