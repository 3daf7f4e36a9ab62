/**
 * The consumer's options: their TSDoc (unit, default), the one `DEFAULT_METRICS_CONSUMER_OPTIONS`
 * constant, and their validation into the frozen {@link ResolvedConsumerOptions} every mechanism
 * reads (resolved once, in the consumer's constructor). Names follow the one vocabulary of
 * docs/architecture.md: `chunkSize` is now `batchSize` (the old name a deprecated alias).
 */
import { hostname } from 'node:os'
import type { OptionRename } from '@ayala/internal'
import type { Cluster, Redis } from 'ioredis'
import type { Aggregates, View } from '../aggregates/define.js'
import { type Duration, toMs } from '../duration.js'
import { MetricsStreamError } from '../errors.js'
import { checkOptionKeys, renamed } from '../option-keys.js'
import type { Source } from './source.js'

/** Options of {@link createMetricsConsumer}. */
export interface MetricsConsumerOptions<E> {
  /** ioredis client (or Cluster) the figures are written to. */
  redis: Redis | Cluster
  /** Key namespace (no braces or whitespace). */
  namespace: string
  /** The view to maintain. */
  view: View<E, any, Aggregates<any>>
  /** Where record batches come from: {@link kafkaSource}. */
  source: Source
  /** Generation written to. @default the generation readers use (the pointer), or 1 */
  generation?: number | undefined
  /**
   * Most records per apply script (one chunk, pre-aggregated in Node first), 1..5000; with a
   * `scriptBudget`, the first chunk's size and the ceiling of the adaptive size.
   * @default 500
   */
  batchSize?: number | undefined
  /** @deprecated Renamed `batchSize` (records per apply script); the old name warns once per process. */
  chunkSize?: number | undefined
  /**
   * Target time one apply script may run on the Redis server. Redis runs nothing else meanwhile,
   * so this bounds how long a dashboard read waits behind one script (a read may queue behind
   * one script per partition in flight, see `partitionsConsumedConcurrently`). After every script the
   * consumer reads the script's server time (Redis `TIME` inside the script) and sizes the next
   * chunk to fit, between 1 and `batchSize` records. A number is milliseconds (`0.25` = 250 us);
   * `Infinity`: fixed chunks of `batchSize`.
   * @default '0.25ms'
   */
  scriptBudget?: Duration | undefined
  /**
   * Most apply scripts this consumer has sent to Redis and not yet seen answered, across all its
   * partitions. Redis runs scripts one after another, so a dashboard read can queue behind every
   * script in flight: with `1`, a read waits behind at most one script (about `scriptBudget`),
   * at the price of Redis idling for a round trip between two scripts. `Infinity`: one per
   * partition being processed (kafkajs `partitionsConsumedConcurrently`).
   * @default Infinity
   */
  maxScriptsInFlight?: number | undefined
  /**
   * How far behind a partition's watermark (the latest event time it has seen) an event may be
   * and still count; later ones go to `lateTopic`. A number is milliseconds.
   * @default Infinity (no event is late)
   */
  allowedLateness?: Duration | undefined
  /** Topic of records that cannot be decoded or fail the view's validator. @default `<topic>.dlq` */
  deadLetterTopic?: string | undefined
  /** Topic of events beyond the allowed lateness. @default `<topic>.late` */
  lateTopic?: string | undefined
  /** How long one Redis script may take before it is retried (the retry is safe). @default '5s' */
  scriptTimeout?: Duration | undefined
  /** First retry delay after a Redis or Kafka failure; doubles up to `maxRetryDelay`. @default '100ms' */
  retryDelay?: Duration | undefined
  /** Longest retry delay. @default '2s' */
  maxRetryDelay?: Duration | undefined
  /** Label stored as the partition owner, for operators. @default `<hostname>:<pid>` */
  owner?: string | undefined
  /**
   * What happens to a partition at a record batch the source cannot decode (an unknown or
   * failing compression codec, corrupt bytes). `'pause'`: the partition stops there and fetches
   * the batch again after a backoff (`retryDelay` doubling to `maxRetryDelay`) until it decodes;
   * nothing is skipped, `sourceErrors()` lists it meanwhile. `'dead-letter'`: the batch's bytes
   * go to `deadLetterTopic` (headers `x-error-code: E_STREAM_UNDECODABLE`, `x-error`, `x-codec`,
   * `x-source-*`, `x-source-last-offset`, `x-records`) and the partition moves past it: its
   * events are then missing from the figures. Either way it is counted and emitted.
   * @default 'pause'
   */
  undecodableBatches?: 'pause' | 'dead-letter' | undefined
  /**
   * How often the consumer checks that Redis still holds the view's state (one HMGET + GET of the
   * view's slot), and completes a rebuild whose partitions all reached their target. A loss is
   * also noticed at once by the next claim. A number is milliseconds.
   * @default '1s'
   */
  stateCheckInterval?: Duration | undefined
  /**
   * The figures need every event since the topic began: when a replay from the start (first start,
   * or after Redis lost the state) meets a low watermark above 0 (retention deleted records), or
   * a delta-mode view a compacted topic, or a partition resumes beyond deleted records, the state
   * is marked incomplete and health is down. `false` for views whose figures only cover what the
   * topic retains (bucketed figures with a `retention` shorter than the topic's).
   * @default true
   */
  requireCompleteHistory?: boolean | undefined
}

/** Defaults of {@link MetricsConsumerOptions}. */
export const DEFAULT_METRICS_CONSUMER_OPTIONS = Object.freeze({
  batchSize: 500,
  /** @deprecated The default of `batchSize`, under its old name. */
  chunkSize: 500,
  scriptBudget: '0.25ms' as Duration,
  maxScriptsInFlight: Number.POSITIVE_INFINITY,
  allowedLateness: Number.POSITIVE_INFINITY as Duration,
  scriptTimeout: '5s' as Duration,
  retryDelay: '100ms' as Duration,
  maxRetryDelay: '2s' as Duration,
  stateCheckInterval: '1s' as Duration,
  requireCompleteHistory: true,
  undecodableBatches: 'pause' as 'pause' | 'dead-letter',
})

/** The options as every mechanism reads them: durations in milliseconds, defaults applied. @internal */
export interface ResolvedConsumerOptions {
  /** Most records per apply script (`batchSize`). */
  readonly batchSize: number
  readonly scriptBudget: number
  readonly maxScriptsInFlight: number
  readonly allowedLateness: number
  readonly scriptTimeout: number
  readonly retryDelay: number
  readonly maxRetryDelay: number
  readonly owner: string
  readonly stateCheckInterval: number
  readonly requireCompleteHistory: boolean
  readonly undecodableBatches: 'pause' | 'dead-letter'
}

/** Every key {@link MetricsConsumerOptions} has (unknown ones are refused by name). @internal */
export const CONSUMER_OPTION_KEYS: ReadonlySet<string> = new Set([
  'redis',
  'namespace',
  'view',
  'source',
  'generation',
  'batchSize',
  'chunkSize',
  'scriptBudget',
  'maxScriptsInFlight',
  'allowedLateness',
  'deadLetterTopic',
  'lateTopic',
  'scriptTimeout',
  'retryDelay',
  'maxRetryDelay',
  'owner',
  'undecodableBatches',
  'stateCheckInterval',
  'requireCompleteHistory',
])

const BATCH_SIZE: OptionRename = { from: 'chunkSize', to: 'batchSize', code: 'AYALA_STREAM_CHUNKSIZE' }

/**
 * Validate `options` (unknown keys refused by name, `chunkSize` read as the deprecated alias of
 * `batchSize`) and freeze the result.
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION`
 * @internal
 */
export function resolveConsumerOptions<E>(
  options: MetricsConsumerOptions<E>,
  factory = 'createMetricsConsumer',
): ResolvedConsumerOptions {
  checkOptionKeys(options, CONSUMER_OPTION_KEYS, factory)
  const d = DEFAULT_METRICS_CONSUMER_OPTIONS
  const batchSize = renamed<number>(options, BATCH_SIZE, factory) ?? d.batchSize
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5_000) {
    const name =
      options.batchSize === undefined && options.chunkSize !== undefined ? 'chunkSize' : 'batchSize'
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `${name} must be an integer in 1..5000, got ${batchSize}`,
    )
  }
  const scriptBudget = toMs(options.scriptBudget ?? d.scriptBudget, 'scriptBudget', true)
  if (scriptBudget === 0) {
    throw new MetricsStreamError('E_STREAM_INVALID_OPTION', 'scriptBudget must be above 0 (Infinity: off)')
  }
  const maxScriptsInFlight = options.maxScriptsInFlight ?? d.maxScriptsInFlight
  if (
    maxScriptsInFlight !== Number.POSITIVE_INFINITY &&
    (!Number.isInteger(maxScriptsInFlight) || maxScriptsInFlight < 1)
  ) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `maxScriptsInFlight must be a positive integer or Infinity, got ${maxScriptsInFlight}`,
    )
  }
  const undecodableBatches = options.undecodableBatches ?? d.undecodableBatches
  if (undecodableBatches !== 'pause' && undecodableBatches !== 'dead-letter') {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `undecodableBatches must be 'pause' or 'dead-letter', got ${String(undecodableBatches)}`,
    )
  }
  const stateCheck = toMs(options.stateCheckInterval ?? d.stateCheckInterval, 'stateCheckInterval')
  if (stateCheck === 0 || !Number.isFinite(stateCheck)) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      'stateCheckInterval must be a finite duration above 0',
    )
  }
  return Object.freeze({
    batchSize,
    scriptBudget,
    maxScriptsInFlight,
    allowedLateness: toMs(options.allowedLateness ?? d.allowedLateness, 'allowedLateness', true),
    scriptTimeout: toMs(options.scriptTimeout ?? d.scriptTimeout, 'scriptTimeout'),
    retryDelay: toMs(options.retryDelay ?? d.retryDelay, 'retryDelay'),
    maxRetryDelay: toMs(options.maxRetryDelay ?? d.maxRetryDelay, 'maxRetryDelay'),
    owner: options.owner ?? `${hostname()}:${process.pid}`,
    stateCheckInterval: stateCheck,
    requireCompleteHistory: options.requireCompleteHistory ?? d.requireCompleteHistory,
    undecodableBatches,
  })
}
