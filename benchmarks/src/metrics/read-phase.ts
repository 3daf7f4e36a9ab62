/**
 * A read phase: the dashboard read in a loop in this process while something else runs (a
 * consumer child applying the backlog, CPU burners, or nothing), from the load's first applied
 * chunk to its end, with the server times (SLOWLOG), Redis's CPU and the machine's CPU over the
 * same window; and the merge of one phase's rounds into one row.
 */
import type { MetricsBench } from './bench.js'
import type { ChildReport, ConsumerSpec } from './child.js'
import { type Spawned, spawnChild, stop } from './spawn.js'
import { busyCores, loadAverage, machineCpu, slowlog } from './stats.js'

/** A read phase: the figures of one row of the dashboard table. */
export interface ReadPhase {
  label: string
  reads: number[]
  cachedReads: number[]
  /** Server time per apply script (us, sorted) and per read EXEC. */
  scripts: number[]
  execs: number[]
  report: ChildReport | undefined
  /** Consumer child + Redis CPU over the phase, cores. */
  weight: number
  /** Control phases: the CPU the burners were set to use, cores. */
  burnt?: number | undefined
  redisCores: number
  machineCores: number
  load: string
}

/** One row's phases of every round, merged. */
export function mergePhases(list: ReadPhase[]): ReadPhase {
  const first = list[0] as ReadPhase
  const mean = (f: (p: ReadPhase) => number) => list.reduce((s, p) => s + f(p), 0) / list.length
  const reports = list.flatMap((p) => (p.report ? [p.report] : []))
  const meanOf = (f: (r: ChildReport) => number) => reports.reduce((s, r) => s + f(r), 0) / reports.length
  return {
    label: first.label,
    reads: list.flatMap((p) => p.reads),
    cachedReads: list.flatMap((p) => p.cachedReads),
    scripts: list.flatMap((p) => p.scripts).sort((a, b) => a - b),
    execs: list.flatMap((p) => p.execs).sort((a, b) => a - b),
    report:
      reports.length === 0
        ? undefined
        : {
            eventsPerSec: meanOf((r) => r.eventsPerSec),
            applied: reports.reduce((s, r) => s + r.applied, 0),
            chunks: reports.reduce((s, r) => s + r.chunks, 0),
            batches: reports.reduce((s, r) => s + r.batches, 0),
            cpuCores: meanOf((r) => r.cpuCores),
            waitingShare: meanOf((r) => r.waitingShare),
          },
    weight: mean((p) => p.weight),
    burnt: mean((p) => p.burnt ?? 0),
    redisCores: mean((p) => p.redisCores),
    machineCores: mean((p) => p.machineCores),
    load: list.map((p) => p.load.split(' ')[0]).join(', '),
  }
}

/** Read the dashboard while `load` runs; `load` resolves when the phase is over. */
export async function readPhase(
  bench: MetricsBench,
  label: string,
  ns: string,
  start: () => Promise<{ applying: Promise<void>; over: Promise<ChildReport | undefined> }>,
  withCached: boolean,
): Promise<ReadPhase & { ns: string }> {
  const { redis, reader, replica, serversCpuSeconds } = bench
  const { fromRedis, cached } = bench.dashboardsOf(ns)
  await fromRedis.read()
  await cached.read()
  const { applying, over } = await start()
  await applying
  await slowlog(redis)
  if (replica) await slowlog(reader)
  const cpu0 = await serversCpuSeconds()
  const machine0 = machineCpu()
  const began = performance.now()
  let finished = false
  let report: ChildReport | undefined
  const ended = over.then(
    (r) => {
      report = r
      finished = true
    },
    (error: unknown) => {
      finished = true
      throw error
    },
  )
  // Awaited after the read loop; a handler now keeps a child's failure during the loop from
  // being an unhandled rejection (which ended the process before `finally` cleaned up).
  ended.catch(() => undefined)
  const reads: number[] = []
  const cachedReads: number[] = []
  while (!finished) {
    let t = performance.now()
    await fromRedis.read()
    reads.push(performance.now() - t)
    if (withCached) {
      t = performance.now()
      await cached.read()
      cachedReads.push(performance.now() - t)
    }
  }
  await ended
  const seconds = (performance.now() - began) / 1_000
  const machine1 = machineCpu()
  const redisCores = ((await serversCpuSeconds()) - cpu0) / seconds
  const { scripts, reads: primaryExecs } = await slowlog(redis)
  const execs = replica ? (await slowlog(reader)).reads : primaryExecs
  return {
    label,
    ns,
    reads,
    cachedReads,
    scripts,
    execs,
    report,
    weight: (report?.cpuCores ?? 0) + redisCores,
    redisCores,
    machineCores: busyCores(machine0, machine1),
    load: loadAverage(),
  }
}

/** A consumer child applying the backlog while this process reads. */
export function consumerPhase(bench: MetricsBench, label: string, spec: ConsumerSpec, withCached = false) {
  const childEnv = bench.env(spec)
  let spawned: Spawned | undefined
  return {
    result: readPhase(
      bench,
      label,
      childEnv.BENCH_NS,
      async () => {
        spawned = spawnChild('ours', childEnv)
        bench.children.push(spawned)
        return { applying: spawned.applying, over: spawned.done }
      },
      withCached,
    ),
    child: () => spawned,
  }
}

/** Burners of `weight` cores in all (each at most one core), reading for `ms`. */
export async function controlPhase(
  bench: MetricsBench,
  label: string,
  ns: string,
  weight: number,
  ms: number,
): Promise<ReadPhase & { ns: string }> {
  return {
    ...(await readPhase(
      bench,
      label,
      ns,
      async () => {
        const count = Math.max(1, Math.ceil(weight))
        const burners = Array.from({ length: count }, () =>
          spawnChild('burn', { BENCH_DUTY: String(Math.min(1, weight / count)) }),
        )
        bench.children.push(...burners)
        const applying = Promise.all(burners.map((b) => b.applying)).then(
          () => new Promise<void>((done) => setTimeout(done, 200)),
        )
        const over = applying
          .then(() => new Promise<void>((done) => setTimeout(done, ms)))
          .then(async () => {
            await Promise.all(burners.map((b) => stop(b.process)))
            return undefined
          })
        return { applying, over }
      },
      false,
    )),
    burnt: weight,
  }
}
