/**
 * One run of each engine of the metrics-engines benchmark on the shared backlog, each in a process
 * of its own and in names of its own (group, topics, namespace), each ending with a check of its
 * final figures against the ground truth (a mismatch throws):
 *
 * - ours and the naive consumer: the children of `../metrics/child.ts` (as metrics-throughput
 *   runs them); events/s from the first applied chunk to the last (the group join not timed),
 *   figures read back from Redis (the dashboard / the naive hashes).
 * - Kafka Streams and Flink: a JVM each (`jvm.ts`); events/s = backlog / (time from the job's start
 *   line until its changelog holds the final figures), the JVM start (spawn to start line)
 *   reported apart; figures as the changelog holds them.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDashboard } from '@ayala/metrics-stream'
import type { Redis } from 'ioredis'
import { view } from '../metrics/events.js'
import { BROKERS, kafka } from '../metrics/settings.js'
import { spawnChild, stop } from '../metrics/spawn.js'
import { watchChangelog } from './changelog-watch.js'
import { assertFigures, type StatusFigures } from './figures.js'
import { type Classpaths, type Job, startJob } from './jvm.js'

/** The engines, in the order of the first round. */
export const ENGINES = ['ours', 'kafka-streams', 'flink', 'flink-deltas', 'naive'] as const
/** One of {@link ENGINES}. */
export type Engine = (typeof ENGINES)[number]

/** What one run of one engine measured. */
export interface EngineRun {
  eventsPerSec: number
  /** Spawn of the process until the final figures were there, s. */
  wallS: number
  /** CPU of the engine's process / wall time over its run (cores). */
  cpuCores: number
  /** JVM engines: spawn until the job's start line, s. */
  jvmStartS?: number | undefined
  /** JVM engines: job start until the final figures were in the changelog, s. */
  runS?: number | undefined
  /** Kafka Streams: job start until its first RUNNING state (group joined, tasks assigned), s. */
  runningS?: number | undefined
  /** JVM engines: changelog rows read until the final figures were there. */
  changelogRows?: number | undefined
}

/** What every run shares. */
export interface EngineContext {
  topic: string
  namespace: string
  total: number
  truth: StatusFigures
  redis: Redis
  redisUrl: string
  classpaths: Classpaths
  /** Topics, topic-name prefixes (Kafka Streams' internal topics) and groups to delete at the end. */
  created: { topics: string[]; prefixes: string[]; groups: string[] }
  /** Temporary directories to remove at the end. */
  dirs: string[]
}

/** One run of `engine`; `round` names its topics and groups. */
export async function runEngine(engine: Engine, context: EngineContext, round: number): Promise<EngineRun> {
  switch (engine) {
    case 'ours':
    case 'naive':
      return runChild(engine, context, round)
    case 'kafka-streams':
      return runStreams(context, round)
    case 'flink':
      return runFlink(context, round)
    case 'flink-deltas':
      return runFlinkDeltas(context, round)
  }
}

async function runChild(kind: 'ours' | 'naive', context: EngineContext, round: number): Promise<EngineRun> {
  const namespace = `${context.namespace}-${kind}-${round}`
  context.created.groups.push(`${namespace}-${kind}`)
  const spawnedAt = performance.now()
  const spawned = spawnChild(kind, {
    BENCH_TOPIC: context.topic,
    BENCH_NS: namespace,
    BENCH_TOTAL: String(context.total),
    BENCH_REDIS: context.redisUrl,
    BENCH_SPEC: '{}',
  })
  try {
    const report = await spawned.done
    const wallS = (performance.now() - spawnedAt) / 1_000
    let figures: StatusFigures
    if (kind === 'ours') {
      const dashboard = createDashboard({ redis: context.redis, namespace, view, cache: false })
      const snapshot = await dashboard.read()
      await dashboard.close()
      figures = {
        byStatus: snapshot.figures.byStatus as Record<string, number>,
        amountByStatus: snapshot.figures.amountByStatus as Record<string, number>,
      }
    } else {
      const prefix = `naive:${namespace}:`
      figures = {
        byStatus: await hashOf(context.redis, `${prefix}byStatus`),
        amountByStatus: await hashOf(context.redis, `${prefix}amountByStatus`),
      }
    }
    assertFigures(kind === 'ours' ? 'the embedded consumer' : 'the naive consumer', figures, context.truth)
    return { eventsPerSec: report.eventsPerSec, wallS, cpuCores: report.cpuCores }
  } finally {
    await stop(spawned.process)
    await context.redis.flushall()
  }
}

async function hashOf(redis: Redis, key: string): Promise<Record<string, number>> {
  const raw = await redis.hgetall(key)
  return Object.fromEntries(Object.entries(raw).map(([field, value]) => [field, Number(value)]))
}

/** Create changelog topics of one partition each. */
async function createTopics(context: EngineContext, topics: string[]): Promise<void> {
  const admin = kafka().admin()
  await admin.connect()
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((topic) => ({ topic, numPartitions: 1 })),
    })
    context.created.topics.push(...topics)
  } finally {
    await admin.disconnect()
  }
}

/** Time a JVM job from its start line until `changelog` holds the ground truth. */
async function timeJob(
  name: string,
  context: EngineContext,
  changelog: string,
  round: number,
  start: () => Job,
  startLine: RegExp,
): Promise<EngineRun> {
  const watchGroup = `${context.namespace}-watch-${name}-${round}`
  context.created.groups.push(watchGroup)
  const watch = await watchChangelog(changelog, watchGroup, context.truth)
  const job = start()
  let timer: NodeJS.Timeout | undefined
  try {
    const startedAt = await Promise.race([job.lineSeen(startLine), job.exited])
    const running = name === 'kafka-streams' ? job.lineSeen(/^RUNNING/) : undefined
    // Generous: a failure shows as a mismatch of the figures reached by then, not as a hang.
    const limitMs = 180_000 + context.total
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `metrics-engines: ${name}'s changelog did not reach the ground truth within ${limitMs / 1_000} s: it holds ${JSON.stringify(watch.figures())}, expected ${JSON.stringify(context.truth)} (${watch.rows()} rows read). JVM output: ${job.log()}`,
            ),
          ),
        limitMs,
      )
    })
    const finalAt = await Promise.race([watch.reached, job.exited, timeout])
    const cpu = job.cpuSeconds()
    assertFigures(name, watch.figures(), context.truth)
    const runS = (finalAt - startedAt) / 1_000
    const runningAt = running ? await Promise.race([running, Promise.resolve(Number.NaN)]) : undefined
    return {
      eventsPerSec: context.total / runS,
      wallS: (finalAt - job.spawnedAt) / 1_000,
      cpuCores: cpu / ((finalAt - job.spawnedAt) / 1_000),
      jvmStartS: (startedAt - job.spawnedAt) / 1_000,
      runS,
      runningS: runningAt === undefined ? undefined : (runningAt - startedAt) / 1_000,
      changelogRows: watch.rows(),
    }
  } finally {
    clearTimeout(timer)
    await job.stop()
    await watch.stop()
  }
}

async function runStreams(context: EngineContext, round: number): Promise<EngineRun> {
  const applicationId = `${context.namespace}-streams-${round}`
  const changelog = `${applicationId}-out`
  await createTopics(context, [changelog])
  // Its repartition and store changelog topics are named after the application id.
  context.created.prefixes.push(`${applicationId}-`)
  context.created.groups.push(applicationId)
  const stateDir = mkdtempSync(join(tmpdir(), 'bench-engines-streams-'))
  context.dirs.push(stateDir)
  return timeJob(
    'kafka-streams',
    context,
    changelog,
    round,
    () =>
      startJob(context.classpaths.streams, 'dev.ayala.bench.InvoiceStatusStreams', [
        BROKERS.join(','),
        context.topic,
        changelog,
        applicationId,
        stateDir,
      ]),
    /^STARTED/,
  )
}

async function runFlink(context: EngineContext, round: number): Promise<EngineRun> {
  const name = `${context.namespace}-flink-${round}`
  const byStatus = `${name}-status`
  const byDay = `${name}-day`
  await createTopics(context, [byStatus, byDay])
  context.created.groups.push(name)
  const checkpoints = mkdtempSync(join(tmpdir(), 'bench-engines-flink-'))
  context.dirs.push(checkpoints)
  return timeJob(
    'flink',
    context,
    byStatus,
    round,
    () =>
      startJob(context.classpaths.flink, 'dev.ayala.flink.InvoiceStatusJob', [
        BROKERS.join(','),
        context.topic,
        byStatus,
        byDay,
        name,
        checkpoints,
        `${name}-tx`,
      ]),
    /^JOB /,
  )
}

async function runFlinkDeltas(context: EngineContext, round: number): Promise<EngineRun> {
  const name = `${context.namespace}-flinkd-${round}`
  const byStatus = `${name}-status`
  await createTopics(context, [byStatus])
  context.created.groups.push(name)
  const checkpoints = mkdtempSync(join(tmpdir(), 'bench-engines-flinkd-'))
  context.dirs.push(checkpoints)
  return timeJob(
    'flink-deltas',
    context,
    byStatus,
    round,
    () =>
      startJob(context.classpaths.flinkDeltas, 'dev.ayala.bench.InvoiceDeltaJob', [
        BROKERS.join(','),
        context.topic,
        byStatus,
        name,
        checkpoints,
        `${name}-tx`,
      ]),
    /^JOB /,
  )
}

/** Delete every topic, Kafka Streams internal topic and group the runs created; remove the dirs. */
export async function cleanUp(context: EngineContext): Promise<void> {
  for (const dir of context.dirs) rmSync(dir, { recursive: true, force: true })
  const admin = kafka().admin()
  await admin.connect()
  try {
    const existing: string[] = await admin.listTopics()
    const topics = existing.filter(
      (topic) =>
        context.created.topics.includes(topic) ||
        context.created.prefixes.some((prefix) => topic.startsWith(prefix)),
    )
    if (topics.length > 0) await admin.deleteTopics({ topics })
    // A member killed by SIGKILL stays in its group until its session times out (6 s): one retry.
    const groups = [...new Set(context.created.groups)]
    for (let attempt = 0; attempt < 2 && groups.length > 0; attempt++) {
      const listed = new Set(
        ((await admin.listGroups()).groups as Array<{ groupId: string }>).map((g) => g.groupId),
      )
      const left = groups.filter((group) => listed.has(group))
      if (left.length === 0) break
      try {
        await admin.deleteGroups(left)
        break
      } catch (error) {
        if (attempt === 1)
          console.warn(
            `[metrics-engines] groups not deleted (${left.join(', ')}): ${(error as Error).message}`,
          )
        else await new Promise((done) => setTimeout(done, 8_000))
      }
    }
  } finally {
    await admin.disconnect()
  }
}
