/**
 * Scenario: `@ayala/metrics-stream` under load, against a naive consumer, all measured in one run.
 *
 * 1. Throughput: a backlog of invoice events (a third of them corrections carrying their previous
 *    state) is applied by one consumer process with the exactly-once effect on (chunks of 500
 *    pre-aggregated in Node, one Lua script each: owner token + offset check, deltas, offset,
 *    version, PUBLISH), then by a naive kafkajs `eachMessage` consumer doing the same increments
 *    (HINCRBY/ZINCRBY/PFADD) in one pipeline per message, with no offsets in Redis (at-least-once).
 *    Each consumer runs in its own child process (this file, in child mode); events/s are counted
 *    from its first applied event to its last, so the group join is not timed.
 * 2. Dashboard reads while the exactly-once consumer applies the backlog at full speed: all
 *    figures of the view in one MULTI round trip from Redis, and from the push-invalidated
 *    in-process copy, sequential awaits in this (parent) process.
 * 3. Event-to-dashboard latency: with the consumer caught up, events are produced live (~2,000/s);
 *    for every change notice the parent receives, now minus the oldest record timestamp of the
 *    chunk (producer create time), i.e. the worst event of each chunk.
 *
 * kafkajs is not a dependency of the benchmarks package: it is loaded from
 * `@ayala/metrics-stream`'s own dependencies.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import {
  createDashboard,
  createEventProducer,
  createMetricsConsumer,
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
import { type ResultRow, ratioGoal, runConfig, writeResult } from '../report.js'

const require = createRequire(import.meta.resolve('@ayala/metrics-stream'))
const { Kafka, logLevel } = require('kafkajs') as any

const BROKERS = (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(',')
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
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
      const { id: _id, at: _at, previous: _previous, ...before } = prev
      events.push({ ...before, status: 'paid', id: prev.id, at: now, previous: before })
    } else {
      events.push({ ...state, id: `inv-${n}`, at: now })
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

/** Child mode: run one consumer until `total` events are applied; report events/s on stdout. */
async function child(kind: string): Promise<void> {
  const topic = process.env.BENCH_TOPIC as string
  const namespace = process.env.BENCH_NS as string
  const total = Number(process.env.BENCH_TOTAL)
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null })
  const client = kafka()
  let applied = 0
  let first = 0
  const report = () => {
    const seconds = (performance.now() - first) / 1_000
    process.stdout.write(`${JSON.stringify({ done: true, eventsPerSec: applied / seconds, applied })}\n`)
  }
  if (kind === 'ours') {
    const consumer = createMetricsConsumer({
      redis,
      namespace,
      view,
      chunkSize: 500,
      source: kafkaSource({
        kafka: client,
        groupId: `${namespace}-ours`,
        topics: [topic],
        consumer: FAST_GROUP,
      }),
    })
    let reported = false
    consumer.on('applied', (event: { events: number }) => {
      if (first === 0) first = performance.now()
      else applied += event.events
      if (!reported && consumer.stats().applied >= total) {
        reported = true
        report()
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
      if (first === 0) first = performance.now()
      else applied++
      seen++
      if (seen === total) report()
    },
  })
}

function spawnChild(
  kind: 'ours' | 'naive',
  env: Record<string, string>,
): { process: ChildProcess; done: Promise<number> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', import.meta.filename], {
    env: {
      ...process.env,
      ...env,
      [CHILD]: kind,
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
      NODE_NO_WARNINGS: '1',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const done = new Promise<number>((resolve, reject) => {
    let buffer = ''
    proc.stdout?.setEncoding('utf8')
    proc.stdout?.on('data', (chunk: string) => {
      buffer += chunk
      for (const line of buffer.split('\n').slice(0, -1)) {
        const parsed = JSON.parse(line) as { eventsPerSec: number }
        resolve(parsed.eventsPerSec)
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1)
    })
    proc.once('exit', (code) => reject(new Error(`${kind} consumer exited with ${code}`)))
  })
  return { process: proc, done }
}

function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
  const exited = new Promise<void>((done) => proc.once('exit', () => done()))
  proc.kill('SIGKILL')
  return exited
}

function pct(sorted: number[], q: number): number {
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

/**
 * The apply path alone: the same backlog, already fetched, handed to the exactly-once consumer
 * through an in-memory `Source` (4 partitions in parallel, batches of 2,000), so the figure is
 * decode + pre-aggregation + scripts without kafkajs's fetch and record decoding.
 */
async function applyPathRate(backlog: readonly BenchEvent[], namespace: string): Promise<number> {
  const redis = new Redis(REDIS_URL)
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
  const consumer = createMetricsConsumer({ redis, namespace, view, source, chunkSize: 500 })
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

export async function run() {
  const quick = runConfig().quick
  const total = quick ? 6_000 : 100_000
  const suffix = randomBytes(4).toString('hex')
  const topic = `bench-metrics-${suffix}`
  const namespace = `bench-ms-${suffix}`
  const client = kafka()
  const admin = client.admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS }] })
  const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const events = createEventProducer<BenchEvent>({ producer, topic, key: (e) => e.id })
  const backlog = makeEvents(total, 0)
  for (let i = 0; i < backlog.length; i += 2_000) await events.send(backlog.slice(i, i + 2_000))

  const redis = new Redis(REDIS_URL)
  const fromRedis = createDashboard({ redis, namespace, view, cache: false })
  const cached = createDashboard({ redis, namespace, view, cache: true })
  const env = { BENCH_TOPIC: topic, BENCH_NS: namespace, BENCH_TOTAL: String(total) }
  const children: ChildProcess[] = []
  try {
    // 1 + 2: exactly-once consumer at full speed, reads measured meanwhile.
    const ours = spawnChild('ours', env)
    children.push(ours.process)
    let finished = false
    void ours.done.then(
      () => {
        finished = true
      },
      () => {
        finished = true
      },
    )
    const redisReads: number[] = []
    const cachedReads: number[] = []
    await cached.read()
    while (!finished) {
      let t = performance.now()
      await fromRedis.read()
      redisReads.push(performance.now() - t)
      t = performance.now()
      await cached.read()
      cachedReads.push(performance.now() - t)
    }
    const oursRate = await ours.done

    // 3: live events, latency from record timestamp to the change notice.
    const latencies: number[] = []
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
    await stop(ours.process)

    // 1b: naive consumer on the same backlog.
    const naive = spawnChild('naive', env)
    children.push(naive.process)
    const naiveRate = await naive.done
    await stop(naive.process)

    // 1c: the apply path alone, in this process (children stopped).
    const applyRate = await applyPathRate(backlog, `${namespace}-mem`)

    const perEvent = (rate: number) => 1e6 / rate
    const NAIVE = 'naive kafkajs eachMessage, one pipeline per message (at-least-once)'
    const OURS = '@ayala/metrics-stream consumer, exactly-once (500-event scripts)'
    const throughputRows: ResultRow[] = [
      {
        name: NAIVE,
        p50Us: perEvent(naiveRate),
        p99Us: Number.NaN,
        opsPerSec: naiveRate,
        ratioToBaseline: 1,
      },
      {
        name: OURS,
        p50Us: perEvent(oursRate),
        p99Us: Number.NaN,
        opsPerSec: oursRate,
        ratioToBaseline: perEvent(oursRate) / perEvent(naiveRate),
      },
      {
        name: '@ayala/metrics-stream apply path alone (in-memory Source, no Kafka fetch)',
        p50Us: perEvent(applyRate),
        p99Us: Number.NaN,
        opsPerSec: applyRate,
        ratioToBaseline: perEvent(applyRate) / perEvent(naiveRate),
      },
      latencyRow(
        'event-to-dashboard latency (record timestamp -> change notice)',
        latencies,
        'p50/p99 per chunk, worst event',
      ),
    ]
    const result = writeResult(
      'metrics-throughput',
      'metrics-stream: events applied per second, one consumer process',
      throughputRows,
      NAIVE,
      {
        description: `${total.toLocaleString('en')} invoice events (a third corrections) on ${PARTITIONS} partitions; each consumer in its own process; "p50" of the consumer rows is the mean time per event.`,
        goals: [
          ratioGoal('exactly-once events/s vs the naive consumer', oursRate / naiveRate, 1, true),
          ratioGoal('exactly-once events/s vs 50,000/s', oursRate / 50_000, 1, true),
          ratioGoal('exactly-once apply path alone vs 50,000/s', applyRate / 50_000, 1, true),
          ratioGoal(
            'event-to-dashboard p99 vs 1 s',
            pct(
              [...latencies].sort((a, b) => a - b),
              0.99,
            ) / 1_000,
            1,
          ),
        ],
      },
    )
    const readRows: ResultRow[] = [
      latencyRow(
        'dashboard read from Redis (one MULTI round trip)',
        redisReads,
        'while the consumer applies at full speed',
      ),
      latencyRow(
        'dashboard read from the push-invalidated in-process copy',
        cachedReads,
        'while the consumer applies at full speed',
      ),
    ]
    const base = readRows[0] as ResultRow
    for (const row of readRows) row.ratioToBaseline = row.p50Us / base.p50Us
    writeResult(
      'metrics-dashboard',
      'metrics-stream: dashboard reads during full-speed apply',
      readRows,
      base.name,
      {
        description:
          'All 5 figures of the view (7 day buckets) per read, sequential awaits in the reading process while another process applies the backlog.',
        goals: [ratioGoal('Redis read p99 vs 1 ms', base.p99Us / 1_000, 1)],
      },
    )
    return result
  } finally {
    await Promise.all(children.map(stop))
    await fromRedis.close()
    await cached.close()
    await producer.disconnect()
    await admin.deleteTopics({ topics: [topic] })
    await admin.disconnect()
    for (const pattern of [`{${namespace}:*`, `{${namespace}-mem:*`, `naive:${namespace}:*`]) {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000)
        cursor = next
        if (keys.length > 0) await redis.unlink(...keys)
      } while (cursor !== '0')
    }
    redis.disconnect()
  }
}

const childKind = process.env[CHILD]
if (childKind) await child(childKind)
