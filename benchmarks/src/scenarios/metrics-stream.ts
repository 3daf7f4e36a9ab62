/**
 * Scenario: `@ayala/metrics-stream` under load, against a naive consumer, all measured in one run,
 * on a private redis-server started by the scenario (so SLOWLOG can time every command on the
 * server without touching the shared Redis).
 *
 * 1. Dashboard reads while a consumer process applies a backlog of invoice events (a third of them
 *    corrections carrying their previous state) at full speed: all figures of the view in one
 *    MULTI round trip, sequential awaits in this (parent) process, counted only between the
 *    consumer's first and last applied chunk. Next to each read row: the server-side time of the
 *    apply scripts (SLOWLOG, threshold 0) and the CPU used by the consumer process and by Redis.
 *    Phases: nothing running (idle); the consumer with chunks of 50/100/200/500 events and with the
 *    library's defaults (the chunk-size sweep: throughput vs read p99 in the same run); and a
 *    control: CPU burners of the same weight as the 500-event consumer phase (consumer process +
 *    Redis CPU), writing nothing to Redis, so the reader gets the same share of the machine and
 *    any difference is Redis blocking, not scheduling.
 * 2. Throughput with no reads: the exactly-once consumer (defaults, 500-event chunks, kafkajs
 *    fetch variants), then a naive kafkajs `eachMessage` consumer doing the same increments
 *    (HINCRBY/ZINCRBY/PFADD) in one pipeline per message with no offsets in Redis
 *    (at-least-once), then the apply path alone fed from memory. Each consumer runs in its own
 *    child process (this file, in child mode); events/s are counted from its first applied chunk
 *    to its last, so the group join is not timed. The child also reports the share of that time
 *    during which no batch handler was running (waiting on kafkajs: fetch and record decoding).
 * 3. Event-to-dashboard latency: with the default consumer caught up, events are produced live
 *    (~2,000/s); for every change notice, now minus the oldest record timestamp of the chunk
 *    (producer create time), i.e. the worst event of each chunk.
 *
 * Entity mode (`defineView({ entity })`, upserts by version: one HMGET per chunk and a
 * compare-and-set on the stored versions) runs in the throughput rounds and the apply-path rows
 * side by side with delta mode (`rows`), on the same backlog (each event carries its version).
 *
 * Setups (environment): METRICS_BENCH_PIN_REDIS=1 (Redis on a CPU of its own),
 * METRICS_BENCH_READ_REPLICA=1 (reads from a replica), METRICS_BENCH_CHILD_NICE=N; see below.
 * METRICS_BENCH_SECTIONS=throughput runs section 2 only (no read phases, no live latency).
 *
 * kafkajs and `@ayala/testkit` are not dependencies of the benchmarks package: they are loaded
 * from `@ayala/metrics-stream`'s own (dev) dependencies.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism, cpus, setPriority } from 'node:os'
import { pathToFileURL } from 'node:url'
import {
  createDashboard,
  createEventProducer,
  createMetricsConsumer,
  DEFAULT_METRICS_CONSUMER_OPTIONS,
  day,
  defineAggregates,
  defineView,
  kafkaSource,
  type Source,
  type SourceBatch,
  type SourceBatchContext,
  type SourceMessage,
} from '@ayala/metrics-stream'
import { Redis } from 'ioredis'
import { type ResultRow, ratioGoal, runConfig, type ScenarioResult, writeResult } from '../report.js'

const require = createRequire(import.meta.resolve('@ayala/metrics-stream'))
const { Kafka, logLevel } = require('kafkajs') as any

/** The part of `@ayala/testkit` used here. */
interface PrivateRedis {
  port: number
  url: string
  dispose(): Promise<void>
}
async function startPrivateRedis(options: { args: string[]; replicaOf?: number }): Promise<PrivateRedis> {
  const testkit = (await import(pathToFileURL(require.resolve('@ayala/testkit')).href)) as {
    startPrivateRedis(options: { args: string[]; replicaOf?: number }): Promise<PrivateRedis>
  }
  return testkit.startPrivateRedis(options)
}

const BROKERS = (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(',')
const PARTITIONS = 4
const CHILD = 'AYALA_METRICS_BENCH_CHILD'

interface Row {
  status: 'open' | 'paid' | 'cancelled'
  amountCents: number
  clientId: string
  issuedAt: number
}
interface BenchEvent extends Row {
  id: string
  /** The invoice's version: 1 when created, 2 for its correction (entity mode). */
  version: number
  at: number
  previous?: Row | undefined
}

const aggregates = defineAggregates<Row>()((a) => ({
  byStatus: a.count({ by: { status: (r) => r.status } }),
  amountByStatus: a.sum({ value: (r) => r.amountCents, by: { status: (r) => r.status } }),
  amountByDay: a.sum({ value: (r) => r.amountCents, bucket: day((r) => r.issuedAt), readBuckets: 7 }),
  topClients: a.top({ member: (r) => r.clientId, score: (r) => r.amountCents, size: 10 }),
  clients: a.distinct({ value: (r) => r.clientId }),
}))
const view = defineView<BenchEvent, Row, typeof aggregates>({
  name: 'bench',
  eventTime: (e) => e.at,
  rows: (e) => ({
    add: { status: e.status, amountCents: e.amountCents, clientId: e.clientId, issuedAt: e.issuedAt },
    retract: e.previous,
  }),
  aggregates,
})
/** The same aggregates in entity mode: the row after the change, by version. */
const entityView = defineView<BenchEvent, Row, typeof aggregates>({
  name: 'bench',
  eventTime: (e) => e.at,
  entity: (e) => ({
    key: e.id,
    version: e.version,
    row: { status: e.status, amountCents: e.amountCents, clientId: e.clientId, issuedAt: e.issuedAt },
  }),
  aggregates,
})

function makeEvents(count: number, from: number): BenchEvent[] {
  const events: BenchEvent[] = []
  const now = Date.now()
  for (let i = 0; i < count; i++) {
    const n = from + i
    const state: Row = {
      status: 'open',
      amountCents: 100 + ((n * 7_919) % 100_000),
      clientId: `client-${n % 500}`,
      issuedAt: now - (n % 7) * 86_400_000,
    }
    if (i % 3 === 2) {
      const prev = events[events.length - 1] as BenchEvent
      const { id: _id, at: _at, previous: _previous, version: _version, ...before } = prev
      events.push({ ...before, status: 'paid', id: prev.id, version: 2, at: now, previous: before })
    } else {
      events.push({ ...state, id: `inv-${n}`, version: 1, at: now })
    }
  }
  return events
}

function kafka() {
  return new Kafka({ clientId: 'ayala-bench', brokers: BROKERS, logLevel: logLevel.NOTHING })
}

const FAST_GROUP = {
  sessionTimeout: 6_000,
  rebalanceTimeout: 6_000,
  heartbeatInterval: 500,
  maxWaitTimeInMs: 100,
}

/** How a consumer child is configured (environment variables of the child). */
interface ConsumerSpec {
  /** Records per apply script; absent: the library's default. */
  chunkSize?: number | undefined
  /** `scriptBudget` in ms; `off`: fixed chunks (Infinity); absent: the library's default. */
  budget?: number | 'off' | undefined
  /** Extra kafkajs consumer settings (fetch sizes). */
  fetch?: Record<string, number> | undefined
  partitionsConsumedConcurrently?: number | undefined
  /** `maxScriptsInFlight`; absent: the library's default. */
  scriptsInFlight?: number | undefined
  /** Entity mode (`defineView({ entity })`) instead of delta mode. */
  entity?: boolean | undefined
}

/** What a consumer child reports when it has applied the backlog. */
interface ChildReport {
  eventsPerSec: number
  applied: number
  /** CPU time of the child over the applying window / wall time (cores). */
  cpuCores: number
  /** Share of the applying window with no batch handler running (waiting on kafkajs). */
  waitingShare: number
  batches: number
  chunks: number
}

function line(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

/** Child mode: run one consumer until `total` events are applied; report on stdout. */
async function child(kind: string): Promise<void> {
  if (kind === 'burn') {
    // A CPU burner of a given duty cycle (0..1] over 10 ms periods; touches no network.
    const duty = Number(process.env.BENCH_DUTY)
    line({ event: 'burning' })
    for (;;) {
      const began = performance.now()
      while (performance.now() - began < duty * 10) {
        // spin
      }
      if (duty < 1) await new Promise((done) => setTimeout(done, (1 - duty) * 10))
      else await new Promise((done) => setImmediate(done))
    }
  }
  const topic = process.env.BENCH_TOPIC as string
  const namespace = process.env.BENCH_NS as string
  const total = Number(process.env.BENCH_TOTAL)
  const redis = new Redis(process.env.BENCH_REDIS as string, { maxRetriesPerRequest: null })
  const client = kafka()
  let applied = 0
  let first = 0
  let cpuAtFirst = process.cpuUsage()
  const report = (extra: Partial<ChildReport>) => {
    const ms = performance.now() - first
    const cpu = process.cpuUsage(cpuAtFirst)
    line({
      event: 'done',
      eventsPerSec: applied / (ms / 1_000),
      applied,
      cpuCores: (cpu.user + cpu.system) / 1_000 / ms,
      ...extra,
    })
  }
  if (kind === 'ours') {
    const spec = JSON.parse(process.env.BENCH_SPEC as string) as ConsumerSpec
    // Time with no batch handler running, from the first applied chunk on.
    let active = 0
    let idleSince = 0
    let idleMs = 0
    let batches = 0
    const inner = kafkaSource({
      kafka: client,
      groupId: `${namespace}-ours`,
      topics: [topic],
      partitionsConsumedConcurrently: spec.partitionsConsumedConcurrently,
      consumer: { ...FAST_GROUP, ...spec.fetch },
    })
    const source: Source = {
      ...inner,
      start: (handle) =>
        inner.start(async (batch, context) => {
          if (active++ === 0 && idleSince > 0) idleMs += performance.now() - idleSince
          batches++
          try {
            await handle(batch, context)
          } finally {
            if (--active === 0) idleSince = performance.now()
          }
        }),
    }
    const consumer = createMetricsConsumer({
      redis,
      namespace,
      view: spec.entity ? entityView : view,
      source,
      ...(spec.chunkSize === undefined ? {} : { chunkSize: spec.chunkSize }),
      ...(spec.budget === undefined
        ? {}
        : { scriptBudget: spec.budget === 'off' ? Number.POSITIVE_INFINITY : spec.budget }),
      ...(spec.scriptsInFlight === undefined ? {} : { maxScriptsInFlight: spec.scriptsInFlight }),
    })
    let reported = false
    let batchesAtFirst = 0
    consumer.on('applied', (event: { events: number }) => {
      if (first === 0) {
        first = performance.now()
        cpuAtFirst = process.cpuUsage()
        batchesAtFirst = batches
        line({ event: 'applying' })
      } else applied += event.events
      if (!reported && consumer.stats().applied >= total) {
        reported = true
        const ms = performance.now() - first
        report({
          waitingShare: idleMs / ms,
          batches: batches - batchesAtFirst + 1,
          chunks: consumer.stats().chunks,
        })
        // For a CPU profile (`node --cpu-prof`), which is written on a normal exit only.
        if (process.env.BENCH_EXIT_WHEN_DONE) process.exit(0)
      }
    })
    await consumer.start()
    return
  }
  const consumer = client.consumer({ groupId: `${namespace}-naive`, ...FAST_GROUP })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const prefix = `naive:${namespace}:`
  let seen = 0
  const apply = (pipeline: ReturnType<Redis['pipeline']>, row: Row, sign: number) => {
    pipeline.hincrby(`${prefix}byStatus`, row.status, sign)
    pipeline.hincrby(`${prefix}amountByStatus`, row.status, sign * row.amountCents)
    pipeline.hincrby(
      `${prefix}amountByDay:${new Date(row.issuedAt).toISOString().slice(0, 10)}`,
      '_',
      sign * row.amountCents,
    )
    pipeline.zincrby(`${prefix}topClients`, sign * row.amountCents, row.clientId)
    if (sign > 0) pipeline.pfadd(`${prefix}clients`, row.clientId)
  }
  await consumer.run({
    eachMessage: async ({ message }: { message: { value: Buffer } }) => {
      const event = JSON.parse(message.value.toString('utf8')) as BenchEvent
      const pipeline = redis.pipeline()
      if (event.previous) apply(pipeline, event.previous, -1)
      apply(pipeline, event, 1)
      await pipeline.exec()
      if (first === 0) {
        first = performance.now()
        cpuAtFirst = process.cpuUsage()
        line({ event: 'applying' })
      } else applied++
      seen++
      if (seen === total) report({})
    },
  })
}

interface Spawned {
  process: ChildProcess
  /** Resolves at the first applied chunk (consumers) or once burning (burners). */
  applying: Promise<void>
  done: Promise<ChildReport>
}

/**
 * METRICS_BENCH_PIN_REDIS=1: Redis gets a CPU of its own, as it would have on its own host. The
 * private redis-server and this (reading) process are pinned to the last CPU, the consumer and
 * burner children to the others; the Kafka broker and the rest of the machine are left alone.
 */
/**
 * METRICS_BENCH_READ_REPLICA=1: the consumer applies to the primary and the dashboard is read
 * from a replica of it (`--replicaof`), the usual way to keep reads off a write-heavy primary. The
 * replica applies the scripts' effects (Redis 7 replicates a script as the commands it ran, in a
 * MULTI/EXEC), so a read waits behind those, not behind the Lua. With METRICS_BENCH_PIN_REDIS=1
 * the replica and the reader take the last CPU and the primary goes with the consumer children.
 */
const REPLICA = process.env.METRICS_BENCH_READ_REPLICA === '1'

/** METRICS_BENCH_SECTIONS=throughput: section 2 only (the read phases and the live latency skipped). */
const READS = (process.env.METRICS_BENCH_SECTIONS ?? 'reads,throughput').split(',').includes('reads')

// Decided in the parent only: a child pinned to one CPU sees one CPU.
const PIN = process.env.METRICS_BENCH_PIN_REDIS === '1' && !process.env[CHILD] ? pinning() : undefined

function pinning(): { redisCpu: string; childCpus: string; nice: number; label: string } {
  const count = availableParallelism()
  if (count < 2) throw new Error('METRICS_BENCH_PIN_REDIS=1 needs at least 2 CPUs')
  const redisCpu = String(count - 1)
  const childCpus = count === 2 ? '0' : `0-${count - 2}`
  // METRICS_BENCH_REDIS_NICE=-10 (root): Redis and the reader also outrank whatever else the
  // scheduler puts on their CPU (the unpinned Kafka broker), closer to a core of their own.
  const nice = Number(process.env.METRICS_BENCH_REDIS_NICE ?? 0)
  return {
    redisCpu,
    childCpus,
    nice,
    label: `${REPLICA ? 'the replica ' : ''}redis-server and the reading process pinned to CPU ${redisCpu}${nice !== 0 ? ` at nice ${nice}` : ''}, ${REPLICA ? 'the primary redis-server and the ' : ''}consumer/burner children to CPU ${childCpus} (taskset); the Kafka broker and everything else unpinned`,
  }
}

/** Pin every thread of `pid` to `cpus` (taskset syntax). */
function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-apc', cpus, String(pid)], { stdio: 'ignore' })
}

function spawnChild(kind: 'ours' | 'naive' | 'burn', env: Record<string, string>): Spawned {
  let proc: ChildProcess | undefined
  let started: () => void = () => undefined
  const applying = new Promise<void>((resolve) => {
    started = resolve
  })
  const done = new Promise<ChildReport>((resolve, reject) => {
    let attempts = 0
    const launch = () => {
      attempts++
      const argv = [process.execPath, '--import', 'tsx', import.meta.filename]
      // taskset execs node in place: same pid, every thread inherits the affinity.
      const [command, ...args] = PIN ? ['taskset', '-c', PIN.childCpus, ...argv] : argv
      const child = spawn(command as string, args, {
        env: {
          ...process.env,
          ...env,
          [CHILD]: kind,
          KAFKAJS_NO_PARTITIONER_WARNING: '1',
          NODE_NO_WARNINGS: '1',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      // METRICS_BENCH_CHILD_NICE=N: the consumer and burner processes run at nice N, so the
      // reading process and Redis get the CPU first; what is left of the read p99 is then Redis
      // (scripts in the way), not the scheduler. For measuring that split; off by default.
      const nice = Number(process.env.METRICS_BENCH_CHILD_NICE ?? 0)
      if (nice > 0 && child.pid !== undefined) setPriority(child.pid, nice)
      proc = child
      let said = false
      let buffer = ''
      child.stdout?.setEncoding('utf8')
      child.stdout?.on('data', (chunk: string) => {
        said = true
        buffer += chunk
        for (const text of buffer.split('\n').slice(0, -1)) {
          const parsed = JSON.parse(text) as { event: string } & ChildReport
          if (parsed.event === 'done') resolve(parsed)
          else started()
        }
        buffer = buffer.slice(buffer.lastIndexOf('\n') + 1)
      })
      child.once('exit', (code, signal) => {
        // The checkout is shared: a build by someone else empties the package's dist/ for a few
        // seconds, and a child starting then fails to import it. Such a child (exit code, no
        // output) is started again, four times at most.
        if (!said && signal === null && code !== 0 && attempts < 5) setTimeout(launch, 3_000)
        else reject(new Error(`${kind} child exited with ${code ?? signal}`))
      })
    }
    launch()
  })
  // A child that dies before applying must not leave `applying` pending forever.
  done.catch(() => started())
  return {
    get process() {
      return proc as ChildProcess
    },
    applying,
    done,
  }
}

function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
  const exited = new Promise<void>((done) => proc.once('exit', () => done()))
  proc.kill('SIGKILL')
  return exited
}

function pct(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * q))] as number
}

function latencyRow(name: string, samplesMs: number[], note: string): ResultRow {
  const sorted = [...samplesMs].sort((a, b) => a - b)
  const sum = sorted.reduce((s, v) => s + v, 0)
  return {
    name,
    p50Us: pct(sorted, 0.5) * 1_000,
    p99Us: pct(sorted, 0.99) * 1_000,
    opsPerSec: sum > 0 ? (1_000 * sorted.length) / sum : Number.NaN,
    ratioToBaseline: Number.NaN,
    samples: sorted.length,
    note,
  }
}

/** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string)
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  const total = fields.reduce((s, v) => s + v, 0)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  return { busy: total - idle, total }
}

/** Cores of the machine busy between two `machineCpu()` readings. */
function busyCores(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  return ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * cpus().length
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
}

/** CPU seconds used by the Redis server so far. */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu')
  const read = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0)
  return read('used_cpu_user') + read('used_cpu_sys')
}

/** Server-side durations (us) of the apply scripts and of the reads' EXEC since the last reset. */
async function slowlog(redis: Redis): Promise<{ scripts: number[]; reads: number[] }> {
  const entries = (await redis.call('SLOWLOG', 'GET', '-1')) as Array<
    [number, number, number, string[], string]
  >
  await redis.call('SLOWLOG', 'RESET')
  const scripts: number[] = []
  const reads: number[] = []
  // Redis 7.0 logs the commands inside MULTI/EXEC one by one (not EXEC), and the commands a
  // script runs too (client address "?:0"): a read is the sum of the reading connection's
  // entries from one MULTI to the next (entries come newest first).
  let read = -1
  let reader = ''
  for (const [, , micros, args, client] of entries.reverse()) {
    const command = String(args[0]).toLowerCase()
    if (command === 'evalsha' || command === 'eval') scripts.push(micros)
    else if (command === 'multi') {
      if (read >= 0) reads.push(read)
      read = micros
      reader = client
    } else if (read >= 0 && client === reader && command !== 'slowlog' && command !== 'info') {
      read += micros
    }
  }
  if (read >= 0) reads.push(read)
  scripts.sort((a, b) => a - b)
  reads.sort((a, b) => a - b)
  return { scripts, reads }
}

/** One row's phases of every round, merged. */
function mergePhases(list: ReadPhase[]): ReadPhase {
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

function spread(sortedUs: readonly number[]): string {
  if (sortedUs.length === 0) return 'n/a'
  return `${pct(sortedUs, 0.5)}/${pct(sortedUs, 0.99)}/${sortedUs[sortedUs.length - 1]} us`
}

/** A read phase: the figures of one row of the dashboard table. */
interface ReadPhase {
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

/**
 * The apply path alone: the same backlog, already fetched, handed to the exactly-once consumer
 * through an in-memory `Source` (4 partitions in parallel, batches of 2,000), so the figure is
 * decode + pre-aggregation + scripts without kafkajs's fetch and record decoding.
 */
async function applyPathRate(
  url: string,
  backlog: readonly BenchEvent[],
  namespace: string,
  options: { chunkSize?: number; scriptBudget?: number; entity?: boolean },
): Promise<number> {
  const redis = new Redis(url)
  const partitions: SourceMessage[][] = Array.from({ length: PARTITIONS }, () => [])
  backlog.forEach((event, i) => {
    const log = partitions[i % PARTITIONS] as SourceMessage[]
    log.push({
      offset: String(log.length),
      key: Buffer.from(event.id),
      value: Buffer.from(JSON.stringify(event)),
      timestamp: String(Date.now()),
    })
  })
  let handle: ((batch: SourceBatch, context: SourceBatchContext) => Promise<void>) | undefined
  const source: Source = {
    topics: ['memory'],
    start: async (h) => {
      handle = h
    },
    isAssigned: () => true,
    send: async () => undefined,
    highWatermarks: async () => [],
    stop: async () => undefined,
  }
  const { entity, ...consumerOptions } = options
  const consumer = createMetricsConsumer({
    redis,
    namespace,
    view: entity ? entityView : view,
    source,
    ...consumerOptions,
  })
  await consumer.start()
  const context: SourceBatchContext = {
    assignment: 1,
    isActive: () => true,
    commit: async () => undefined,
    heartbeat: async () => undefined,
    seek: () => undefined,
  }
  const started = performance.now()
  await Promise.all(
    partitions.map(async (log, partition) => {
      for (let i = 0; i < log.length; i += 2_000) {
        await handle?.({ topic: 'memory', partition, messages: log.slice(i, i + 2_000) }, context)
      }
    }),
  )
  const rate = consumer.stats().applied / ((performance.now() - started) / 1_000)
  await consumer.stop()
  redis.disconnect()
  return rate
}

const DEFAULT_CHUNK = DEFAULT_METRICS_CONSUMER_OPTIONS.chunkSize
const DEFAULT_BUDGET = DEFAULT_METRICS_CONSUMER_OPTIONS.scriptBudget
const SWEEP = [50, 100, 200, 500]
const BUDGETS = [0.25, 0.5, 1]
const ROUNDS = 2

export async function run(): Promise<ScenarioResult> {
  const quick = runConfig().quick
  const total = quick ? 6_000 : 100_000
  const suffix = randomBytes(4).toString('hex')
  const topic = `bench-metrics-${suffix}`
  const namespace = `bench-ms-${suffix}`
  const loadAtStart = loadAverage()
  const client = kafka()
  const admin = client.admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] })
  const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const events = createEventProducer<BenchEvent>({ producer, topic, key: (e) => e.id })
  const backlog = makeEvents(total, 0)
  for (let i = 0; i < backlog.length; i += 2_000) await events.send(backlog.slice(i, i + 2_000))

  // Every server-side command time is logged; reset after each phase.
  const slowlogEverything = ['--slowlog-log-slower-than', '0', '--slowlog-max-len', '1000000']
  const server = await startPrivateRedis({ args: slowlogEverything })
  const redis = new Redis(server.url)
  // The dashboard's server: the primary, or its replica (METRICS_BENCH_READ_REPLICA=1), synced.
  const replica = REPLICA
    ? await startPrivateRedis({ args: slowlogEverything, replicaOf: server.port })
    : undefined
  const reader = replica ? new Redis(replica.url) : redis
  /** CPU seconds of every Redis server of the run (the primary, and the replica if any). */
  const serversCpuSeconds = async () =>
    (await redisCpuSeconds(redis)) + (replica ? await redisCpuSeconds(reader) : 0)
  if (PIN) {
    const pidOf = async (connection: Redis) =>
      Number(/process_id:(\d+)/.exec(await connection.info('server'))?.[1])
    const redisPid = await pidOf(reader)
    pin(redisPid, PIN.redisCpu)
    if (replica) pin(await pidOf(redis), PIN.childCpus)
    // The reader goes with Redis: on the consumer's CPU at a higher priority it starved the
    // consumer (16,000 ev/s instead of 60,000), which is no longer "applying at full speed".
    pin(process.pid, PIN.redisCpu)
    if (PIN.nice !== 0) {
      setPriority(redisPid, PIN.nice)
      setPriority(process.pid, PIN.nice)
    }
  }
  const pinned = PIN ? ` ${PIN.label[0]?.toUpperCase()}${PIN.label.slice(1)}.` : ''
  const resultSuffix = `${REPLICA ? '-read-replica' : ''}${PIN ? '-redis-own-cpu' : ''}`
  const children: Spawned[] = []
  const dashboards: Array<{ close(): Promise<void> }> = []
  let phase = 0
  const env = (spec: ConsumerSpec) => ({
    BENCH_TOPIC: topic,
    BENCH_NS: `${namespace}-${phase++}`,
    BENCH_TOTAL: String(total),
    BENCH_REDIS: server.url,
    BENCH_SPEC: JSON.stringify(spec),
  })
  const dashboardsOf = (ns: string) => {
    const fromRedis = createDashboard({ redis: reader, namespace: ns, view, cache: false })
    const cached = createDashboard({ redis: reader, namespace: ns, view, cache: true })
    dashboards.push(fromRedis, cached)
    return { fromRedis, cached }
  }

  /** Read the dashboard while `load` runs; `load` resolves when the phase is over. */
  async function readPhase(
    label: string,
    ns: string,
    start: () => Promise<{ applying: Promise<void>; over: Promise<ChildReport | undefined> }>,
    withCached: boolean,
  ): Promise<ReadPhase & { ns: string }> {
    const { fromRedis, cached } = dashboardsOf(ns)
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
  const consumerPhase = (label: string, spec: ConsumerSpec, withCached = false) => {
    const childEnv = env(spec)
    let spawned: Spawned | undefined
    return {
      result: readPhase(
        label,
        childEnv.BENCH_NS,
        async () => {
          spawned = spawnChild('ours', childEnv)
          children.push(spawned)
          return { applying: spawned.applying, over: spawned.done }
        },
        withCached,
      ),
      child: () => spawned,
    }
  }

  /** Burners of `weight` cores in all (each at most one core), reading for `ms`. */
  const controlPhase = async (label: string, ns: string, weight: number, ms: number) => ({
    ...(await readPhase(
      label,
      ns,
      async () => {
        const count = Math.max(1, Math.ceil(weight))
        const burners = Array.from({ length: count }, () =>
          spawnChild('burn', { BENCH_DUTY: String(Math.min(1, weight / count)) }),
        )
        children.push(...burners)
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
  })

  try {
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
    const DEFAULTS = `library defaults (chunkSize <= ${DEFAULT_CHUNK}, scriptBudget ${DEFAULT_BUDGET})`
    const merged = new Map<string, ReadPhase[]>()
    const add = (p: ReadPhase) => merged.set(p.label, [...(merged.get(p.label) ?? []), p])
    const rounds = !READS ? 0 : quick ? 1 : ROUNDS
    for (let round = 0; round < rounds; round++) {
      const order = [...phases.slice(round % phases.length), ...phases.slice(0, round % phases.length)]
      for (const [label, spec] of order) {
        const phase = consumerPhase(label, spec)
        add(await phase.result)
        const spawned = phase.child()
        if (spawned) await stop(spawned.process)
        await redis.flushall()
      }
      const defaults = consumerPhase(DEFAULTS, {}, true)
      const main = await defaults.result
      add(main)
      const spawned = defaults.child()
      if (spawned) await stop(spawned.process)
      // The controls read the same figures (the defaults' namespace, fully applied).
      add(
        await readPhase(
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
          "CPU burners of the fixed-500 phase's weight, no Redis writes",
          main.ns,
          heavy.weight,
          quick ? 500 : 2_000,
        ),
      )
      await redis.flushall()
    }
    const latencies: number[] = []
    if (READS) {
      // A default consumer that has applied the backlog, for the live latency.
      const liveEnv = env({})
      const live = spawnChild('ours', liveEnv)
      children.push(live)
      await live.done
      const liveNs = liveEnv.BENCH_NS

      // 3 (the live consumer is caught up): live events, record timestamp to change notice.
      const { fromRedis } = dashboardsOf(liveNs)
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
      while (latencies.length === 0 && Date.now() < deadline)
        await new Promise((done) => setTimeout(done, 50))
      unsubscribe()
      await stop(live.process)
      await redis.flushall()
    }

    // 2. Throughput without reads.
    const throughput = async (spec: ConsumerSpec): Promise<ChildReport> => {
      const spawned = spawnChild('ours', env(spec))
      children.push(spawned)
      const report = await spawned.done
      await stop(spawned.process)
      await redis.flushall()
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

    const naive = spawnChild('naive', env({}))
    children.push(naive)
    const naiveRate = (await naive.done).eventsPerSec
    await stop(naive.process)
    await redis.flushall()

    // The apply path alone, in this process (children stopped).
    const applyDefault = await applyPathRate(server.url, backlog, `${namespace}-mem1`, {})
    await redis.flushall()
    const apply500 = await applyPathRate(server.url, backlog, `${namespace}-mem2`, {
      chunkSize: 500,
      scriptBudget: Number.POSITIVE_INFINITY,
    })
    await redis.flushall()
    const applyEntity = await applyPathRate(server.url, backlog, `${namespace}-mem3`, { entity: true })
    await redis.flushall()
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
          oursRow(
            `@ayala/metrics-stream consumer, exactly-once, ${label}`,
            meanReport(sized.get(label) ?? []),
          ),
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
      latencyRow(
        'event-to-dashboard latency (record timestamp -> change notice)',
        latencies,
        'p50/p99 per chunk, worst event',
      ),
    ]
    const result = writeResult(
      `metrics-throughput${resultSuffix}${READS ? '' : '-throughput-only'}`,
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
          ratioGoal(
            'event-to-dashboard p99 vs 1 s',
            pct(
              [...latencies].sort((a, b) => a - b),
              0.99,
            ) / 1_000,
            1,
          ),
        ],
        notes: [
          '"no handler running": share of the applying window during which the consumer had no batch in hand, i.e. waited on kafkajs (fetch, record decoding, group bookkeeping).',
          `entity mode / delta mode, both with the defaults, same backlog (every event carries its version): consumer ${entityReport ? (entityReport.eventsPerSec / oursDefault.eventsPerSec).toFixed(2) : 'n/a'}x events/s (mean of the same rounds), apply path alone ${(applyEntity / applyDefault).toFixed(2)}x. Entity mode adds one HMGET round trip per chunk and an HMGET + HSET of the chunk's entities inside the script.`,
        ],
      },
    )

    if (!READS) return result
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
    writeResult(
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
    return result
  } finally {
    await Promise.all(children.map((c) => stop(c.process)))
    await Promise.all(dashboards.map((d) => d.close()))
    await producer.disconnect()
    await admin.deleteTopics({ topics: [topic] })
    await admin.disconnect()
    redis.disconnect()
    if (replica) {
      reader.disconnect()
      await replica.dispose()
    }
    await server.dispose()
    // Scenarios run after this one in the same process get every CPU back.
    if (PIN) pin(process.pid, `0-${availableParallelism() - 1}`)
  }
}

const childKind = process.env[CHILD]
if (childKind) await child(childKind)
