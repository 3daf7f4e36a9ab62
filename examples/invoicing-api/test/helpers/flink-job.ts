/**
 * The Flink dashboard job of `INVOICING_DASHBOARD_SOURCE=flink` (`services/launcher/flink`,
 * `InvoiceDashboardJob`), run the way the harness's Flink test runs one: the module built through
 * the harness's Maven build (skipped when fresh), then a JVM of its own with a local MiniCluster
 * (`java -cp target/flink/classes:<classpath.txt> ...`), checkpoints in a temporary folder. Its
 * changelog topics are created here first (compacted: the job writes a row's latest figures, a
 * tombstone for a gone row), as whoever deploys the job would.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import type { ResourceNames, ServiceAddresses } from '../../src/config.ts'
import { EXAMPLE_ROOT } from './dataset.ts'

const SERVICES = join(EXAMPLE_ROOT, '..', '..', 'services')
const FLINK = join(SERVICES, 'target', 'flink')

/** Build `services/launcher/flink` through the harness (~25 s the first time from Maven Central). */
export async function buildFlinkJob(): Promise<void> {
  const maven = (await import(join(SERVICES, 'lib', 'jdk-maven.mjs'))) as {
    build(names: string[]): Promise<unknown>
  }
  await maven.build(['flink'])
}

/** Create the job's changelog topics (compacted, 2 partitions) when missing. */
export async function createChangelogTopics(kafka: Kafka, names: ResourceNames): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const listed = new Set(await admin.listTopics())
    const missing = Object.values(names.changelogTopics).filter((topic) => !listed.has(topic))
    if (missing.length === 0) return
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: 2,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      })),
    })
  } finally {
    await admin.disconnect()
  }
}

/** A running job. */
export interface FlinkJob {
  readonly child: ChildProcess
  /** The last 4,000 characters the JVM wrote. */
  log(): string
  /** SIGKILL the JVM and wait for it to exit; remove the checkpoints; delete the job's group. */
  stop(): Promise<void>
}

/** Start the job on `names`' events topic, writing `names.changelogTopics`. */
export function startFlinkJob(addresses: ServiceAddresses, kafka: Kafka, names: ResourceNames): FlinkJob {
  const checkpoints = mkdtempSync(join(tmpdir(), 'invoicing-flink-chk-'))
  const classpath = `${join(FLINK, 'classes')}:${readFileSync(join(FLINK, 'classpath.txt'), 'utf8').trim()}`
  const group = `${names.flinkPrefix}-job`
  const args = [
    addresses.kafkaBrokers.join(','),
    names.topic,
    names.flinkPrefix,
    group,
    checkpoints,
    `${names.flinkPrefix}-tx`,
  ]
  const child = spawn(
    'java',
    ['-Xmx512m', '-XX:+UseSerialGC', '-cp', classpath, 'dev.ayala.flink.InvoiceDashboardJob', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return {
    child,
    log: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit')
        child.kill('SIGKILL')
        await exited
      }
      rmSync(checkpoints, { recursive: true, force: true })
      const admin = kafka.admin()
      await admin.connect()
      try {
        const groups = (await admin.listGroups()).groups.map((g) => g.groupId)
        if (groups.includes(group)) await admin.deleteGroups([group])
      } finally {
        await admin.disconnect()
      }
    },
  }
}
