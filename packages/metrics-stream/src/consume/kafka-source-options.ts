/**
 * The options of {@link kafkaSource}: their TSDoc (unit, default), the one
 * `DEFAULT_KAFKA_SOURCE_OPTIONS` constant, and their validation, once, when the source is
 * created, into the frozen {@link ResolvedKafkaSourceOptions} the source reads (durations in
 * milliseconds). Names follow the one vocabulary of docs/architecture.md: `restartDelay` is now
 * `retryDelay` (the old name a deprecated alias, same value, same doubling), its ceiling
 * `maxRetryDelay` (was a fixed 30 s), and `commitInterval` takes a `Duration`.
 */
import type { OptionRename } from '@ayala/internal'
import type { ConsumerConfig, Kafka } from 'kafkajs'
import { type Duration, toMs } from '../duration.js'
import { MetricsStreamError } from '../errors.js'
import { checkOptionKeys, renamed } from '../option-keys.js'

/** Options of {@link kafkaSource}. */
export interface KafkaSourceOptions {
  /** A kafkajs client. */
  kafka: Kafka
  /** Consumer group id. */
  groupId: string
  /** Topics to consume (at least one). */
  topics: string[]
  /** Partitions handled in parallel by this member, a positive integer. @default 4 */
  partitionsConsumedConcurrently?: number | undefined
  /**
   * kafkajs `autoCommitInterval`: how often resolved offsets are committed *while* a batch is
   * being handled (a number is milliseconds, or `'5s'`). kafkajs also commits every resolved
   * offset after each batch it handed over, whatever this interval, so Kafka trails Redis by at
   * most the batch in hand (never leads it: offsets are resolved only after their script).
   * @default '5s'
   */
  commitInterval?: Duration | undefined
  /**
   * Extra kafkajs consumer settings (session timeout, heartbeat interval, max wait...), in
   * kafkajs's own units (milliseconds as numbers). `groupId` and `allowAutoTopicCreation` are set
   * by the source, and so is `readUncommitted: false` (read committed: records of aborted or still
   * open transactions never count); `readUncommitted: true` is refused
   * (`E_STREAM_INVALID_OPTION`), since it would count what an exactly-once producer (Flink, Kafka
   * Streams) aborted.
   * @default `{ sessionTimeout: 10_000, rebalanceTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 500 }`
   */
  consumer?: Omit<ConsumerConfig, 'groupId'> | undefined
  /**
   * After kafkajs gave up on its consumer (a crash it does not restart), how long the source
   * waits before starting a new one; doubles up to `maxRetryDelay` while it keeps failing. A
   * number is milliseconds.
   * @default '1s'
   */
  retryDelay?: Duration | undefined
  /**
   * Longest wait between two restarts of a failing kafkajs consumer (the ceiling of the doubling
   * `retryDelay`). A number is milliseconds.
   * @default '30s'
   */
  maxRetryDelay?: Duration | undefined
  /**
   * @deprecated Renamed `retryDelay` (the first wait before a restart, doubling; a number is
   * milliseconds, default `'1s'`); the old name warns once per process (`AYALA_STREAM_RESTARTDELAY`)
   * and giving both is `E_STREAM_INVALID_OPTION`.
   */
  restartDelay?: Duration | undefined
}

/** Defaults of {@link KafkaSourceOptions}. */
export const DEFAULT_KAFKA_SOURCE_OPTIONS = Object.freeze({
  partitionsConsumedConcurrently: 4,
  commitInterval: '5s' as Duration,
  retryDelay: '1s' as Duration,
  maxRetryDelay: '30s' as Duration,
})

const KAFKA_SOURCE_OPTION_KEYS: ReadonlySet<string> = new Set([
  'kafka',
  'groupId',
  'topics',
  'partitionsConsumedConcurrently',
  'commitInterval',
  'consumer',
  'retryDelay',
  'maxRetryDelay',
  'restartDelay',
])

const RETRY_DELAY: OptionRename = {
  from: 'restartDelay',
  to: 'retryDelay',
  code: 'AYALA_STREAM_RESTARTDELAY',
}

/** The options as the source reads them (milliseconds, defaults applied). @internal */
export interface ResolvedKafkaSourceOptions {
  readonly partitionsConsumedConcurrently: number
  readonly commitIntervalMs: number
  readonly retryDelayMs: number
  readonly maxRetryDelayMs: number
}

/**
 * Validate `options` (unknown keys refused by name, `restartDelay` read as the deprecated alias of
 * `retryDelay`) and freeze the result.
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION`
 * @internal
 */
export function resolveKafkaSourceOptions(options: KafkaSourceOptions): ResolvedKafkaSourceOptions {
  checkOptionKeys(options, KAFKA_SOURCE_OPTION_KEYS, 'kafkaSource')
  if (!Array.isArray(options.topics) || options.topics.length === 0) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', 'kafkaSource: topics must not be empty')
  }
  if (options.consumer?.readUncommitted === true) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      'kafkaSource: consumer.readUncommitted must not be true: the source reads committed records only, so that records of aborted transactions (an exactly-once Flink or Kafka Streams job restarting) never count',
    )
  }
  const d = DEFAULT_KAFKA_SOURCE_OPTIONS
  const concurrency = options.partitionsConsumedConcurrently ?? d.partitionsConsumedConcurrently
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `kafkaSource: partitionsConsumedConcurrently must be a positive integer, got ${concurrency}`,
    )
  }
  const finite = (value: Duration, name: string): number => {
    const ms = toMs(value, name)
    if (!Number.isFinite(ms)) {
      throw new MetricsStreamError('E_STREAM_INVALID_OPTION', `kafkaSource: ${name} must be finite`)
    }
    return ms
  }
  const commitIntervalMs = finite(options.commitInterval ?? d.commitInterval, 'commitInterval')
  const retryName =
    options.retryDelay === undefined && options.restartDelay !== undefined ? 'restartDelay' : 'retryDelay'
  const retryDelayMs = finite(
    renamed<Duration>(options, RETRY_DELAY, 'kafkaSource') ?? d.retryDelay,
    retryName,
  )
  const maxRetryDelayMs = finite(options.maxRetryDelay ?? d.maxRetryDelay, 'maxRetryDelay')
  for (const [name, ms] of [
    [retryName, retryDelayMs],
    ['maxRetryDelay', maxRetryDelayMs],
  ] as const) {
    if (!(ms > 0)) {
      throw new MetricsStreamError(
        'E_STREAM_INVALID_OPTION',
        `kafkaSource: ${name} must be above 0, got ${ms} ms`,
      )
    }
  }
  return Object.freeze({
    partitionsConsumedConcurrently: concurrency,
    commitIntervalMs,
    retryDelayMs,
    maxRetryDelayMs,
  })
}
