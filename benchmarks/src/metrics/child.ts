/**
 * Child mode: a consumer (ours or the naive one) or a CPU burner in a process of its own, started
 * by `spawn.ts` with `AYALA_METRICS_BENCH_CHILD=<kind>` and its settings in the environment. It
 * prints JSON lines on stdout: `applying` at its first applied chunk (or `burning`), then `done`
 * with its report once the backlog is applied. Events/s are counted from the first applied chunk
 * to the last, so the group join is not timed.
 */
import { createMetricsConsumer, kafkaSource, type Source } from '@ayala/metrics-stream'
import { Redis } from 'ioredis'
import { type BenchEvent, entityView, type Row, view } from './events.js'
import { CHILD, FAST_GROUP, kafka } from './settings.js'

/** How a consumer child is configured (environment variables of the child). */
export interface ConsumerSpec {
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
export interface ChildReport {
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
      ...(spec.chunkSize === undefined ? {} : { batchSize: spec.chunkSize }),
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

const childKind = process.env[CHILD]
if (childKind) await child(childKind)
