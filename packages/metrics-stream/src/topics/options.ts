/**
 * The options of {@link ensureViewTopics}: their TSDoc (unit, default), the one
 * `DEFAULT_VIEW_TOPICS_OPTIONS` constant, and their validation, before any call to Kafka, into
 * the frozen {@link ResolvedViewTopicsOptions} the helper reads. A setting the caller gave is
 * both applied at creation and checked on a topic that already exists; a default is applied at
 * creation only (an existing topic keeps what its owner chose, see the helper's module note).
 */
import type { Kafka } from 'kafkajs'
import { type Duration, toMs } from '../duration.js'
import { MetricsStreamError } from '../errors.js'
import { checkOptionKeys } from '../option-keys.js'

/** Settings of the dead-letter (`<topic>.dlq`) and late (`<topic>.late`) topics. */
export interface SideTopicOptions {
  /** Partitions of each (order does not matter there; the headers name the source partition). @default 1 */
  partitions?: number | undefined
  /**
   * How long Kafka keeps their records (`retention.ms`): time to inspect and replay dead letters.
   * A number is milliseconds; `Infinity`: kept forever.
   * @default '7d'
   */
  retention?: Duration | undefined
}

/** Options of {@link ensureViewTopics}. */
export interface ViewTopicsOptions {
  /** A kafkajs client; the helper connects its own admin client and disconnects it before returning. */
  kafka: Kafka
  /** The view's input topic (the `topics` of its `kafkaSource`). */
  topic: string
  /**
   * Partitions of the input topic: the most consumers that can share the view's work. An
   * existing topic may have more, not fewer (see {@link TopicMismatchError}).
   * @default the broker's `num.partitions`
   */
  partitions?: number | undefined
  /**
   * Replicas of every partition of the three topics. An existing topic may have more, not fewer.
   * @default the broker's `default.replication.factor`
   */
  replicationFactor?: number | undefined
  /**
   * `min.insync.replicas` of the three topics: with `acks: -1` (the event producer's default), a
   * write succeeds only once this many replicas have it. Needs `replicationFactor`, and at most
   * that (Kafka itself accepts a larger value, and every such write then fails).
   * @default the broker's `min.insync.replicas`
   */
  minInsyncReplicas?: number | undefined
  /**
   * How long Kafka keeps the input topic's records (`retention.ms`). The figures are rebuilt from
   * the topic after Redis lost them, and a consumer with `requireCompleteHistory` (the default)
   * reports health down once the topic no longer holds events they need: keep everything unless
   * the view's figures only cover a window (bucketed figures with a shorter `retention`). A
   * number is milliseconds; `Infinity`: kept forever (`retention.ms=-1`).
   * @default Infinity
   */
  retention?: Duration | undefined
  /** Topic of undecodable and invalid records; the consumer's `deadLetterTopic`. @default `<topic>.dlq` */
  deadLetterTopic?: string | undefined
  /** Topic of events beyond the allowed lateness; the consumer's `lateTopic`. @default `<topic>.late` */
  lateTopic?: string | undefined
  /** Partitions and retention of the dead-letter and late topics. @default `{ partitions: 1, retention: '7d' }` */
  sideTopics?: SideTopicOptions | undefined
  /**
   * How long the whole call may take: the topic creation's timeout on the broker and the wait for
   * every new partition to have a leader. A number is milliseconds.
   * @default '30s'
   */
  timeout?: Duration | undefined
}

/** Defaults of {@link ViewTopicsOptions}. */
export const DEFAULT_VIEW_TOPICS_OPTIONS = Object.freeze({
  retention: Number.POSITIVE_INFINITY as Duration,
  sideTopics: Object.freeze({ partitions: 1, retention: '7d' as Duration }),
  timeout: '30s' as Duration,
})

const VIEW_TOPICS_OPTION_KEYS: ReadonlySet<string> = new Set([
  'kafka',
  'topic',
  'partitions',
  'replicationFactor',
  'minInsyncReplicas',
  'retention',
  'deadLetterTopic',
  'lateTopic',
  'sideTopics',
  'timeout',
])
const SIDE_TOPIC_OPTION_KEYS: ReadonlySet<string> = new Set(['partitions', 'retention'])

/** What the input topic is to the view. */
export type ViewTopicRole = 'events' | 'dead-letter' | 'late'

/** One topic as the helper creates or checks it: only `expect`'s settings are checked on an existing one. @internal */
export interface TopicPlan {
  readonly role: ViewTopicRole
  readonly name: string
  /** What a creation asks for (-1: the broker's default). */
  readonly numPartitions: number
  readonly replicationFactor: number
  readonly configEntries: ReadonlyArray<{ name: string; value: string }>
  /** The settings the caller gave, checked on an existing topic. */
  readonly expect: {
    readonly partitions?: number | undefined
    readonly replicationFactor?: number | undefined
    readonly configs: Readonly<Record<string, string>>
  }
}

/** The options as the helper reads them. @internal */
export interface ResolvedViewTopicsOptions {
  readonly topics: readonly TopicPlan[]
  readonly timeoutMs: number
}

// Kafka's own rule (kafka.common.internals.Topic): 249 characters of [a-zA-Z0-9._-], not . or ..
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/

function topicName(value: unknown, option: string): string {
  if (typeof value !== 'string' || !LEGAL_TOPIC.test(value) || value === '.' || value === '..') {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `ensureViewTopics: ${option} must be a Kafka topic name (1-249 characters of a-z, A-Z, 0-9, '.', '_', '-'), got ${JSON.stringify(value)}`,
    )
  }
  return value
}

function positive(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `ensureViewTopics: ${option} must be a positive integer, got ${String(value)}`,
    )
  }
  return value
}

/** `retention.ms` of a {@link Duration}: whole milliseconds, rounded up; Infinity is `-1`. */
function retentionMs(value: Duration, option: string): string {
  const ms = toMs(value, `ensureViewTopics: ${option}`, true)
  if (ms === Number.POSITIVE_INFINITY) return '-1'
  if (ms < 1) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `ensureViewTopics: ${option} must be at least 1 ms (Infinity: kept forever), got ${String(value)}`,
    )
  }
  return String(Math.ceil(ms))
}

/**
 * Validate `options` (unknown keys refused by name, in `sideTopics` too) and plan the three topics.
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION`
 * @internal
 */
export function resolveViewTopicsOptions(options: ViewTopicsOptions): ResolvedViewTopicsOptions {
  checkOptionKeys(options, VIEW_TOPICS_OPTION_KEYS, 'ensureViewTopics')
  const d = DEFAULT_VIEW_TOPICS_OPTIONS
  if (options.kafka === undefined || typeof options.kafka?.admin !== 'function') {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      'ensureViewTopics: kafka must be a kafkajs client',
    )
  }
  const topic = topicName(options.topic, 'topic')
  const deadLetter = topicName(options.deadLetterTopic ?? `${topic}.dlq`, 'deadLetterTopic')
  const late = topicName(options.lateTopic ?? `${topic}.late`, 'lateTopic')
  if (new Set([topic, deadLetter, late]).size < 3) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `ensureViewTopics: topic, deadLetterTopic and lateTopic must be three different topics, got ${topic}, ${deadLetter}, ${late}`,
    )
  }
  const side = options.sideTopics ?? {}
  checkOptionKeys(side, SIDE_TOPIC_OPTION_KEYS, 'ensureViewTopics: sideTopics')
  const partitions = positive(options.partitions, 'partitions')
  const replicationFactor = positive(options.replicationFactor, 'replicationFactor')
  const minInsync = positive(options.minInsyncReplicas, 'minInsyncReplicas')
  // The broker does not check it (Kafka 4 creates a topic whose acks -1 writes can never
  // succeed), so the helper does: against the replication factor given.
  if (minInsync !== undefined && replicationFactor === undefined) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      'ensureViewTopics: minInsyncReplicas needs replicationFactor (it must not exceed it)',
    )
  }
  if (minInsync !== undefined && replicationFactor !== undefined && minInsync > replicationFactor) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `ensureViewTopics: minInsyncReplicas (${minInsync}) must not exceed replicationFactor (${replicationFactor}): no write with acks -1 could ever succeed`,
    )
  }
  const sidePartitions = positive(side.partitions, 'sideTopics.partitions')
  const eventsRetention = retentionMs(options.retention ?? d.retention, 'retention')
  const sideRetention = retentionMs(side.retention ?? d.sideTopics.retention, 'sideTopics.retention')
  const timeoutMs = toMs(options.timeout ?? d.timeout, 'ensureViewTopics: timeout')
  if (timeoutMs < 1) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', 'ensureViewTopics: timeout must be at least 1 ms')
  }

  const shared: Record<string, string> = {}
  if (minInsync !== undefined) shared['min.insync.replicas'] = String(minInsync)
  const plan = (
    role: ViewTopicRole,
    name: string,
    asked: number | undefined,
    fallbackPartitions: number,
    retention: string,
    retentionGiven: boolean,
  ): TopicPlan => {
    const configs: Record<string, string> = { ...shared }
    if (retentionGiven) configs['retention.ms'] = retention
    return Object.freeze({
      role,
      name,
      numPartitions: asked ?? fallbackPartitions,
      replicationFactor: replicationFactor ?? -1,
      configEntries: Object.freeze(
        Object.entries({ ...shared, 'retention.ms': retention }).map(([n, value]) => ({ name: n, value })),
      ),
      expect: Object.freeze({ partitions: asked, replicationFactor, configs: Object.freeze(configs) }),
    })
  }
  const sideGiven = side.retention !== undefined
  return Object.freeze({
    topics: Object.freeze([
      plan('events', topic, partitions, -1, eventsRetention, options.retention !== undefined),
      plan('dead-letter', deadLetter, sidePartitions, d.sideTopics.partitions, sideRetention, sideGiven),
      plan('late', late, sidePartitions, d.sideTopics.partitions, sideRetention, sideGiven),
    ]),
    timeoutMs,
  })
}
