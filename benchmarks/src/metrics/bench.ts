/**
 * The metrics-stream benchmarks' set-up, shared by their sections: a topic holding the backlog
 * (produced once), a private redis-server with SLOWLOG timing every command (and its replica with
 * METRICS_BENCH_READ_REPLICA=1), the CPU pinning of METRICS_BENCH_PIN_REDIS=1, the children and
 * dashboards started meanwhile; `close()` stops and deletes all of it.
 */
import { randomBytes } from 'node:crypto'
import { availableParallelism, setPriority } from 'node:os'
import {
  createDashboard,
  createEventProducer,
  type Dashboard,
  type EventProducer,
} from '@ayala/metrics-stream'
import { Redis } from 'ioredis'
import { runConfig } from '../report.js'
import type { ConsumerSpec } from './child.js'
import { type BenchAggregates, type BenchEvent, makeEvents, view } from './events.js'
import { kafka, PARTITIONS, PIN, type PrivateRedis, pin, REPLICA, startPrivateRedis } from './settings.js'
import { type Spawned, stop } from './spawn.js'
import { loadAverage, redisCpuSeconds } from './stats.js'

/** One run's shared state. */
export interface MetricsBench {
  quick: boolean
  /** Events of the backlog. */
  total: number
  /** Namespace prefix of this run (each phase gets its own below it). */
  namespace: string
  loadAtStart: string
  /** The backlog, also on the topic. */
  backlog: BenchEvent[]
  /** Produces to the run's topic. */
  events: EventProducer<BenchEvent>
  /** The primary the consumers apply to. */
  server: PrivateRedis
  redis: Redis
  /** The replica read with METRICS_BENCH_READ_REPLICA=1. */
  replica: PrivateRedis | undefined
  /** The connection the dashboards read through (the replica's, or `redis`). */
  reader: Redis
  /** CPU seconds of every Redis server of the run (the primary, and the replica if any). */
  serversCpuSeconds(): Promise<number>
  /** The pinning sentence of the descriptions ('' when not pinned). */
  pinned: string
  /** `-read-replica`, `-redis-own-cpu`: appended to the result names. */
  resultSuffix: string
  /** Every child started: stopped at the end. */
  children: Spawned[]
  /** Every dashboard created: closed at the end. */
  dashboards: Array<{ close(): Promise<void> }>
  /** A consumer child's environment, in a namespace of its own. */
  env(spec: ConsumerSpec): {
    BENCH_TOPIC: string
    BENCH_NS: string
    BENCH_TOTAL: string
    BENCH_REDIS: string
    BENCH_SPEC: string
  }
  /** A dashboard reading from Redis and one with the push-invalidated in-process copy. */
  dashboardsOf(ns: string): {
    fromRedis: Dashboard<BenchAggregates>
    cached: Dashboard<BenchAggregates>
  }
  close(): Promise<void>
}

/** Create the topic, produce the backlog, start the private Redis (and replica) and pin. */
export async function openMetricsBench(): Promise<MetricsBench> {
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
  const close = async () => {
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
  return {
    quick,
    total,
    namespace,
    loadAtStart,
    backlog,
    events,
    server,
    redis,
    replica,
    reader,
    serversCpuSeconds,
    pinned,
    resultSuffix,
    children,
    dashboards,
    env,
    dashboardsOf,
    close,
  }
}
