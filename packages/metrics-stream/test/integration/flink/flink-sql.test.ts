/**
 * A real Flink SQL job feeding a dashboard: Flink 2.2 in a local MiniCluster (its own JVM,
 * `services/launcher/flink`), reading the invoice events topic, keeping each invoice's latest
 * state, `GROUP BY status` (count, sum of cents) and a per-day count into two `upsert-kafka`
 * topics with `sink.delivery-guarantee = exactly-once` (Kafka transactions committed on
 * checkpoints, every second). The dashboard reads both through one view of two changelogs and
 * must equal the ground truth; then the job's JVM is SIGKILLed, more events are produced, the job
 * is restored from its last retained checkpoint, and the figures must equal the ground truth of
 * every event again (no double count, nothing lost).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { uniqueName } from '@ayala/testkit'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  changelog,
  createDashboard,
  createMetricsConsumer,
  defineView,
  kafkaSource,
  type MetricsConsumer,
} from '../../../src/index.js'
import { FAST_GROUP, urls, World, waitFor } from '../../helpers/harness.js'
import { generateEvents, groundTruth, type InvoiceEvent } from '../../helpers/invoices.js'

const SERVICES = join(import.meta.dirname, '..', '..', '..', '..', '..', 'services')
const FLINK = join(SERVICES, 'target', 'flink')

/** The harness's Maven build of `services/launcher/flink` (skipped when fresh; ~20 s from ~/.m2). */
async function buildFlink(): Promise<void> {
  const maven = (await import(join(SERVICES, 'lib', 'jdk-maven.mjs'))) as {
    build(names: string[]): Promise<unknown>
  }
  await maven.build(['flink'])
}

function startJob(args: string[]): { child: ChildProcess; log: () => string } {
  const classpath = `${join(FLINK, 'classes')}:${readFileSync(join(FLINK, 'classpath.txt'), 'utf8').trim()}`
  let output = ''
  const child = spawn('java', ['-Xmx768m', '-cp', classpath, 'dev.ayala.flink.InvoiceStatusJob', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8')
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8')
  })
  return { child, log: () => output.slice(-4_000) }
}

/** The newest completed checkpoint (a `chk-N` directory holding `_metadata`) under `dir`. */
function lastCheckpoint(dir: string): string | undefined {
  let best: { path: string; n: number } | undefined
  for (const job of existsSync(dir) ? readdirSync(dir) : []) {
    const jobDir = join(dir, job)
    if (!statSync(jobDir).isDirectory()) continue
    for (const name of readdirSync(jobDir)) {
      const n = Number(name.slice(4))
      if (name.startsWith('chk-') && existsSync(join(jobDir, name, '_metadata')) && (!best || n > best.n)) {
        best = { path: join(jobDir, name), n }
      }
    }
  }
  return best?.path
}

function truthOf(events: readonly InvoiceEvent[]) {
  const t = groundTruth(events)
  const last = new Map<string, InvoiceEvent>()
  for (const e of events) last.set(e.id, e)
  const days: Record<string, number> = {}
  for (const e of last.values()) {
    const day = new Date(e.issuedAt).toISOString().slice(0, 10)
    days[day] = (days[day] ?? 0) + 1
  }
  return { byStatus: t.byStatus, amountByStatus: t.amountByStatus, perDay: days }
}

describe('a Flink SQL job into upsert-kafka, read as a changelog view', () => {
  beforeAll(buildFlink, 900_000)
  const cleanups: Array<() => Promise<unknown> | unknown> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse())
      await Promise.resolve(cleanup()).catch(() => undefined)
  })

  it('equals the ground truth, and again after a SIGKILL and a restore from the last checkpoint', async () => {
    const world = await new World(2).init()
    cleanups.push(() => world.dispose())
    const statusTopic = uniqueName('ms-flink-status')
    const dayTopic = uniqueName('ms-flink-day')
    await world.admin.createTopics({
      topics: [statusTopic, dayTopic].map((topic) => ({ topic, numPartitions: 2 })),
    })
    cleanups.push(() => world.admin.deleteTopics({ topics: [statusTopic, dayTopic] }))
    const checkpoints = mkdtempSync(join(tmpdir(), 'ms-flink-chk-'))
    cleanups.push(() => rmSync(checkpoints, { recursive: true, force: true }))
    const view = defineView({
      name: 'flink_invoices',
      eventTime: () => 0,
      aggregates: {
        ...changelog({
          topic: statusTopic,
          key: ['status'],
          figures: { byStatus: { column: 'invoices' }, amountByStatus: { column: 'amount_cents' } },
        }),
        ...changelog({ topic: dayTopic, key: ['day'], figures: { perDay: { column: 'invoices' } } }),
      },
    })
    const consumer: MetricsConsumer<unknown> = createMetricsConsumer({
      redis: world.redis,
      namespace: world.namespace,
      view,
      source: kafkaSource({
        kafka: world.kafka,
        groupId: `${world.namespace}-g`,
        topics: [statusTopic, dayTopic],
        consumer: FAST_GROUP,
      }),
    })
    cleanups.push(() => consumer.stop())
    await consumer.start()
    const dashboard = createDashboard({ redis: world.redis, namespace: world.namespace, view, cache: false })
    const args = [
      urls.kafkaBrokers.join(','),
      world.topic,
      statusTopic,
      dayTopic,
      `${world.namespace}-flink`,
      checkpoints,
      uniqueName('ms-flink-tx'),
    ]
    const expectFigures = async (events: readonly InvoiceEvent[], log: () => string) => {
      const truth = truthOf(events)
      try {
        await waitFor(
          'the dashboard to equal the ground truth',
          async () => {
            expect((await dashboard.read()).figures).toEqual(truth)
            return true
          },
          150_000,
        )
      } catch (error) {
        console.error(log())
        expect((await dashboard.read()).figures).toEqual(truth)
        throw error
      }
    }

    const first = generateEvents(3_000, 801, 'f1')
    await world.produce(first)
    const job = startJob(args)
    cleanups.push(() => job.child.kill('SIGKILL'))
    await expectFigures(first, job.log)
    await waitFor('a completed checkpoint', () => lastCheckpoint(checkpoints), 60_000)
    job.child.kill('SIGKILL')
    await new Promise((done) => job.child.once('exit', done))
    const restore = lastCheckpoint(checkpoints) as string

    const second = generateEvents(2_000, 802, 'f2')
    await world.produce(second)
    const restored = startJob([...args, restore])
    cleanups.push(() => restored.child.kill('SIGKILL'))
    await expectFigures([...first, ...second], restored.log)
    expect(consumer.stats().deadLettered).toBe(0)
  }, 400_000)
})
