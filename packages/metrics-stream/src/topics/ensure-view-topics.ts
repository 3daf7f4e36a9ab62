/**
 * `ensureViewTopics`: the view's input topic and its dead-letter (`<topic>.dlq`) and late
 * (`<topic>.late`) topics, created when missing, checked when present. The consumer never creates
 * topics (its producer runs with `allowAutoTopicCreation: false`, so a dead letter is never sent
 * to a topic the broker made up with its defaults), so these must exist before it starts.
 *
 * The mechanism, and the rules it keeps:
 *
 * - Idempotent and safe to race: the topics are listed, each missing one is created by its own
 *   CreateTopics request (so the report knows which this call created), and a creation answered
 *   `TOPIC_ALREADY_EXISTS` (another instance starting at the same moment) is treated as "exists"
 *   and checked like one. Then every partition of the three must have a leader (polled: a broker
 *   answers `UNKNOWN_TOPIC_OR_PARTITION` for a moment after a creation, which is why kafkajs's own
 *   `waitForLeaders` is not used), all within `timeout`.
 * - An existing topic is never changed. It is checked, before anything is created (a mismatch
 *   leaves the cluster as it was), against the settings the caller *gave*
 *   (defaults only shape a creation: a topic an operator made keeps what they chose): at least
 *   `partitions` partitions and `replicationFactor` replicas, and exactly the `retention.ms` and
 *   `min.insync.replicas` asked. Any difference is one {@link TopicMismatchError} listing them
 *   all. Partitions especially are never added: Kafka places a key by a hash modulo the partition
 *   count, so adding partitions moves keys to other partitions and splits an entity's events
 *   between an old and a new partition, whose order the consumer no longer sees.
 * - Failures are typed: a broker refusing a setting (`INVALID_PARTITIONS`, `INVALID_CONFIG`,
 *   `POLICY_VIOLATION`) is `E_STREAM_INVALID_OPTION`; a replication factor above the live brokers
 *   (`INVALID_REPLICATION_FACTOR`) and every connection or timeout failure `E_STREAM_KAFKA`,
 *   retriable; a refused SASL login `E_STREAM_KAFKA_AUTH`; a missing ACL `E_STREAM_KAFKA`, not
 *   retriable.
 */

import { kafkaAuthFailure, redactText } from '@ayala/internal'
import type { Admin, ITopicConfig } from 'kafkajs'
import kafkajs from 'kafkajs'
import { MetricsStreamError, type TopicMismatch, TopicMismatchError } from '../errors.js'
import {
  resolveViewTopicsOptions,
  type TopicPlan,
  type ViewTopicRole,
  type ViewTopicsOptions,
} from './options.js'

/** One of the view's topics, as {@link ensureViewTopics} left it. */
export interface ViewTopic {
  /** `events` (the input topic), `dead-letter` or `late`. */
  readonly role: ViewTopicRole
  /** The topic's name. */
  readonly name: string
  /** Whether this call created it (false: it existed and matched). */
  readonly created: boolean
  /** Its partition count. */
  readonly partitions: number
  /** Its replication factor (the fewest replicas of any of its partitions). */
  readonly replicationFactor: number
}

/** What {@link ensureViewTopics} did: the input, dead-letter and late topics, in that order. */
export interface ViewTopicsReport {
  readonly topics: readonly ViewTopic[]
}

/** Broker refusals that mean the asked setting itself is wrong. */
const INVALID_SETTING = new Set([
  'INVALID_PARTITIONS',
  'INVALID_CONFIG',
  'POLICY_VIOLATION',
  'INVALID_REQUEST',
])
const DENIED = new Set(['TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED'])
const POLL_MS = 100

/**
 * Create the view's input topic and its `.dlq` and `.late` topics when missing, check them when
 * present (see the module note), and wait until every partition has a leader.
 *
 * ```ts
 * await ensureViewTopics({ kafka, topic: 'invoices', partitions: 6, replicationFactor: 3, minInsyncReplicas: 2 })
 * // then: createMetricsConsumer({ ..., source: kafkaSource({ kafka, groupId: 'dash', topics: ['invoices'] }) })
 * ```
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` for an invalid or unknown option (before
 * any call to Kafka) or a setting the broker refuses; {@link TopicMismatchError}
 * `E_STREAM_TOPIC_MISMATCH` when an existing topic differs from what was asked;
 * `E_STREAM_KAFKA_AUTH` when the broker refuses the SASL login; `E_STREAM_KAFKA` when Kafka cannot
 * be reached, times out, or denies the ACL
 */
export async function ensureViewTopics(options: ViewTopicsOptions): Promise<ViewTopicsReport> {
  const { topics, timeoutMs } = resolveViewTopicsOptions(options)
  const deadline = Date.now() + timeoutMs
  let admin: Admin
  try {
    admin = options.kafka.admin()
    await admin.connect()
  } catch (error) {
    throw kafkaFailure('Connecting the kafkajs admin client failed', error)
  }
  try {
    const names = topics.map((t) => t.name)
    let listed: Set<string>
    try {
      listed = new Set(await admin.listTopics())
    } catch (error) {
      throw kafkaFailure('Listing the topics failed', error)
    }
    // Existing topics are checked before anything is created: a mismatch changes nothing.
    const existing = topics.filter((t) => listed.has(t.name))
    await check(admin, existing, await shapes(admin, existing))
    const created = new Set<string>()
    const raced: TopicPlan[] = []
    for (const plan of topics) {
      if (listed.has(plan.name)) continue
      if (await create(admin, plan, deadline)) created.add(plan.name)
      else raced.push(plan)
    }
    const metadata = await leaders(admin, names, deadline)
    // Created by someone else between the listing and our creation: checked like the others.
    await check(admin, raced, metadata)
    return Object.freeze({
      topics: Object.freeze(
        topics.map((plan) => {
          const partitions = metadata.get(plan.name) ?? []
          return Object.freeze({
            role: plan.role,
            name: plan.name,
            created: created.has(plan.name),
            partitions: partitions.length,
            replicationFactor: Math.min(...partitions.map((p) => p.replicas.length)),
          })
        }),
      ),
    })
  } finally {
    // The outcome of the disconnect does not change the call's: nothing is left open either way.
    await admin.disconnect().catch(() => undefined)
  }
}

/** Throw one {@link TopicMismatchError} for every difference of `plans` from what was asked. */
async function check(
  admin: Admin,
  plans: TopicPlan[],
  metadata: Map<string, PartitionMetadata[]>,
): Promise<void> {
  if (plans.length === 0) return
  const mismatches = [
    ...plans.flatMap((plan) => shapeMismatches(plan, metadata.get(plan.name) ?? [])),
    ...(await configMismatches(admin, plans)),
  ]
  if (mismatches.length > 0) throw mismatchError(mismatches)
}

/** Partitions and replicas of existing topics (leaders not awaited: only the shape is read). */
async function shapes(admin: Admin, plans: TopicPlan[]): Promise<Map<string, PartitionMetadata[]>> {
  if (plans.length === 0) return new Map()
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: plans.map((p) => p.name) })
    return new Map(topics.map((t) => [t.name, t.partitions as PartitionMetadata[]]))
  } catch (error) {
    throw kafkaFailure('Reading the topics metadata failed', error)
  }
}

/** Create one topic; false when it already existed (another caller won the race). */
async function create(admin: Admin, plan: TopicPlan, deadline: number): Promise<boolean> {
  const topic: ITopicConfig = {
    topic: plan.name,
    numPartitions: plan.numPartitions,
    replicationFactor: plan.replicationFactor,
    configEntries: plan.configEntries.map((e) => ({ ...e })),
  }
  try {
    return await admin.createTopics({
      topics: [topic],
      waitForLeaders: false,
      timeout: Math.max(1, deadline - Date.now()),
    })
  } catch (error) {
    throw kafkaFailure(`Creating topic ${plan.name} failed`, error, plan.name)
  }
}

type PartitionMetadata = { partitionId: number; leader: number; replicas: number[] }

/** Poll the metadata until every partition of `names` has a leader, or the deadline passes. */
async function leaders(
  admin: Admin,
  names: string[],
  deadline: number,
): Promise<Map<string, PartitionMetadata[]>> {
  let last: unknown
  for (;;) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: names })
      const ready = topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
      if (ready && topics.length === names.length) {
        return new Map(topics.map((t) => [t.name, t.partitions as PartitionMetadata[]]))
      }
      last = undefined
    } catch (error) {
      // UNKNOWN_TOPIC_OR_PARTITION right after a creation, LEADER_NOT_AVAILABLE during an
      // election: waited for; anything else ends the wait at once.
      const type = (error as { type?: unknown }).type
      if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') {
        throw kafkaFailure('Reading the topics metadata failed', error)
      }
      last = error
    }
    if (Date.now() + POLL_MS > deadline) {
      throw new MetricsStreamError(
        'E_STREAM_KAFKA',
        `ensureViewTopics: the partitions of ${names.join(', ')} had no leader within the timeout${last ? `: ${describe(last)}` : ''}`,
        { topic: names[0], retriable: true, cause: last },
      )
    }
    await new Promise((done) => setTimeout(done, POLL_MS))
  }
}

function shapeMismatches(plan: TopicPlan, partitions: PartitionMetadata[]): TopicMismatch[] {
  const found: TopicMismatch[] = []
  const { partitions: asked, replicationFactor } = plan.expect
  if (asked !== undefined && partitions.length < asked) {
    found.push({
      topic: plan.name,
      setting: 'partitions',
      expected: String(asked),
      actual: String(partitions.length),
    })
  }
  const replicas = Math.min(...partitions.map((p) => p.replicas.length))
  if (replicationFactor !== undefined && replicas < replicationFactor) {
    found.push({
      topic: plan.name,
      setting: 'replicationFactor',
      expected: String(replicationFactor),
      actual: String(replicas),
    })
  }
  return found
}

async function configMismatches(admin: Admin, plans: TopicPlan[]): Promise<TopicMismatch[]> {
  const checked = plans.filter((p) => Object.keys(p.expect.configs).length > 0)
  if (checked.length === 0) return []
  let resources: Awaited<ReturnType<Admin['describeConfigs']>>['resources']
  try {
    ;({ resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: checked.map((p) => ({
        type: kafkajs.ConfigResourceTypes.TOPIC,
        name: p.name,
        configNames: Object.keys(p.expect.configs),
      })),
    }))
  } catch (error) {
    throw kafkaFailure('Reading the topics config failed', error)
  }
  const found: TopicMismatch[] = []
  for (const plan of checked) {
    const entries = resources.find((r) => r.resourceName === plan.name)?.configEntries ?? []
    for (const [name, expected] of Object.entries(plan.expect.configs)) {
      const actual = entries.find((e) => e.configName === name)?.configValue ?? '(unknown)'
      if (actual !== expected) found.push({ topic: plan.name, setting: name, expected, actual })
    }
  }
  return found
}

function mismatchError(mismatches: TopicMismatch[]): TopicMismatchError {
  const lines = mismatches.map((m) =>
    m.setting === 'partitions' || m.setting === 'replicationFactor'
      ? `${m.topic} has ${m.actual} ${m.setting === 'partitions' ? 'partitions' : 'replicas'}, at least ${m.expected} asked`
      : `${m.topic} has ${m.setting}=${m.actual}, ${m.expected} asked`,
  )
  const partitions = mismatches.some((m) => m.setting === 'partitions')
  return new TopicMismatchError(
    `ensureViewTopics: existing topics differ from what was asked, nothing was changed: ${lines.join('; ')}. ` +
      'Ask for what the topics have, or change them yourself (kafka-topics.sh --alter, kafka-configs.sh --alter)' +
      (partitions
        ? '; adding partitions moves keys to other partitions and splits an entity\u2019s events between two partitions, so the helper never does it (a new topic and a rebuild keep the order)'
        : ''),
    mismatches,
  )
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  const inner = (error as { errors?: unknown }).errors
  const details = Array.isArray(inner)
    ? inner
        .map((e) => {
          const type = (e as { type?: unknown }).type
          const text = e instanceof Error ? e.message : String(e)
          return typeof type === 'string' ? `${type}: ${text}` : text
        })
        .join('; ')
    : ''
  return redactText(details ? `${text} (${details})` : text)
}

/** The kafkajs error types of `error` and of the errors it wraps (aggregates, retries exceeded). */
function errorTypes(error: unknown, depth = 0): string[] {
  if (error === null || typeof error !== 'object' || depth > 4) return []
  const own = (error as { type?: unknown }).type
  const inner = (error as { errors?: unknown }).errors
  return [
    ...(typeof own === 'string' ? [own] : []),
    ...(Array.isArray(inner) ? inner.flatMap((e) => errorTypes(e, depth + 1)) : []),
    ...errorTypes((error as { cause?: unknown }).cause, depth + 1),
    ...errorTypes((error as { originalError?: unknown }).originalError, depth + 1),
  ]
}

function kafkaFailure(message: string, error: unknown, topic?: string): MetricsStreamError {
  if (error instanceof MetricsStreamError) return error
  const reason = describe(error)
  if (kafkaAuthFailure(error)) {
    return new MetricsStreamError(
      'E_STREAM_KAFKA_AUTH',
      `ensureViewTopics: ${message}: the broker refused the SASL credentials: ${reason}`,
      { topic, cause: error },
    )
  }
  const types = errorTypes(error)
  if (types.some((t) => INVALID_SETTING.has(t))) {
    return new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `ensureViewTopics: ${message}: the broker refused the settings: ${reason}`,
      { topic, cause: error },
    )
  }
  if (types.some((t) => DENIED.has(t))) {
    return new MetricsStreamError(
      'E_STREAM_KAFKA',
      `ensureViewTopics: ${message}: the client's user lacks the ACL (CREATE and DESCRIBE_CONFIGS on the topics, or CREATE on the cluster): ${reason}`,
      { topic, retriable: false, cause: error },
    )
  }
  const replication = types.includes('INVALID_REPLICATION_FACTOR')
  return new MetricsStreamError(
    'E_STREAM_KAFKA',
    `ensureViewTopics: ${message}${replication ? ' (the replication factor asked exceeds the brokers alive now)' : ''}: ${reason}`,
    { topic, retriable: true, cause: error },
  )
}
