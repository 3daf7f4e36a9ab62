/**
 * The settings of the metrics-stream benchmarks (from the environment), the Kafka client and the
 * private redis-server of `@ayala/testkit`, and the CPU pinning of METRICS_BENCH_PIN_REDIS=1.
 *
 * kafkajs and `@ayala/testkit` are not dependencies of the benchmarks package: they are loaded
 * from `@ayala/metrics-stream`'s own (dev) dependencies.
 */
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { pathToFileURL } from 'node:url'
import { DEFAULT_METRICS_CONSUMER_OPTIONS } from '@ayala/metrics-stream'

const require = createRequire(import.meta.resolve('@ayala/metrics-stream'))
const { Kafka, logLevel } = require('kafkajs') as any

/** The part of `@ayala/testkit` used here. */
export interface PrivateRedis {
  port: number
  url: string
  dispose(): Promise<void>
}
/** A redis-server of this run's own (`@ayala/testkit`), on a free port. */
export async function startPrivateRedis(options: {
  args: string[]
  replicaOf?: number
}): Promise<PrivateRedis> {
  const testkit = (await import(pathToFileURL(require.resolve('@ayala/testkit')).href)) as {
    startPrivateRedis(options: { args: string[]; replicaOf?: number }): Promise<PrivateRedis>
  }
  return testkit.startPrivateRedis(options)
}

/** The Kafka brokers (`KAFKA_BROKERS`, comma-separated). */
export const BROKERS = (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(',')
/** Partitions of the run's topic. */
export const PARTITIONS = 4
/** The environment variable that makes a process a consumer or burner child (its kind). */
export const CHILD = 'AYALA_METRICS_BENCH_CHILD'

/** A kafkajs client, logging nothing. */
export function kafka() {
  return new Kafka({ clientId: 'ayala-bench', brokers: BROKERS, logLevel: logLevel.NOTHING })
}

/** Consumer group timings short enough for a benchmark's joins and leaves. */
export const FAST_GROUP = {
  sessionTimeout: 6_000,
  rebalanceTimeout: 6_000,
  heartbeatInterval: 500,
  maxWaitTimeInMs: 100,
}

/**
 * METRICS_BENCH_READ_REPLICA=1: the consumer applies to the primary and the dashboard is read
 * from a replica of it (`--replicaof`), the usual way to keep reads off a write-heavy primary. The
 * replica applies the scripts' effects (Redis 7 replicates a script as the commands it ran, in a
 * MULTI/EXEC), so a read waits behind those, not behind the Lua. With METRICS_BENCH_PIN_REDIS=1
 * the replica and the reader take the last CPU and the primary goes with the consumer children.
 */
export const REPLICA = process.env.METRICS_BENCH_READ_REPLICA === '1'

/** METRICS_BENCH_SECTIONS=throughput: section 2 only (the read phases and the live latency skipped). */
export const READS = (process.env.METRICS_BENCH_SECTIONS ?? 'reads,throughput').split(',').includes('reads')

/**
 * METRICS_BENCH_PIN_REDIS=1: Redis gets a CPU of its own, as it would have on its own host. The
 * private redis-server and this (reading) process are pinned to the last CPU, the consumer and
 * burner children to the others; the Kafka broker and the rest of the machine are left alone.
 *
 * The CPUs, or `undefined` (not pinned). Decided in the parent only: a child pinned to one CPU
 * sees one CPU.
 */
export const PIN = process.env.METRICS_BENCH_PIN_REDIS === '1' && !process.env[CHILD] ? pinning() : undefined

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
export function pin(pid: number, cpus: string): void {
  execFileSync('taskset', ['-apc', cpus, String(pid)], { stdio: 'ignore' })
}

/** The library's default `batchSize` (the rows still name it `chunkSize`, as in earlier results). */
export const DEFAULT_CHUNK = DEFAULT_METRICS_CONSUMER_OPTIONS.batchSize
/** The library's default `scriptBudget`, named in the rows. */
export const DEFAULT_BUDGET = DEFAULT_METRICS_CONSUMER_OPTIONS.scriptBudget
