/**
 * The aggregating consumer: Kafka record batches in, Redis figures out, with an exactly-once
 * effect. Mechanism:
 *
 * 1. Per partition, the member first *claims* the partition in Redis (a fresh owner token, see
 *    `scripts.ts`) and learns the last offset applied to Redis and the watermark. It claims again
 *    at every new group assignment.
 * 2. Records at or below the stored offset are skipped (counted as duplicates). When Kafka starts
 *    the batch beyond the stored offset + 1 (Redis lost data, or a new generation on an old
 *    group), the member seeks back to it; when a whole batch lies below it (a new group, or a
 *    lost Kafka commit), it seeks forward to it. Redis, not Kafka's committed offset, is the truth.
 *    "Starts" means where the source fetched from (`fetchedOffset`), not the first record: a
 *    transactional topic has offsets that hold no record for us (commit/abort markers, aborted
 *    records, which the source filters out), so a gap after the fetch offset is not data loss and
 *    costs no seek. The offsets a batch covers after its last record (a trailing commit marker,
 *    `lastOffset`), and fetches that held filtered records only, move the stored offset with a
 *    small script of their own (`advance`): Redis's offset stays where Kafka's position is, lag
 *    reaches 0 and the next batch starts at stored + 1.
 * 2b. A record batch the source could not decode (`undecodable`) is never a silent stall: the
 *    records before it are applied, then it is counted (`stats().undecodableBatches`), emitted
 *    (`sourceError`) and listed by `sourceErrors()` until the partition gets past it. With
 *    `undecodableBatches: 'pause'` (default) the partition stops at it and fetches it again after
 *    a backoff (`retryDelay` doubling to `maxRetryDelay`), so nothing is skipped and the CPU is not
 *    spun; the other partitions go on. With `'dead-letter'` its bytes go to the dead-letter topic
 *    and the stored offset moves past it (its records counted as `dead`).
 * 3. Each batch is cut into chunks of at most `chunkSize` records, fewer when the scripts run
 *    longer than `scriptBudget` on the server (see `chunk-sizer.ts`). A chunk is decoded, validated and
 *    pre-aggregated in Node; bad records and late records are produced to their topics first
 *    (at-least-once there); then ONE script checks the owner token and the stored offset and
 *    applies the increments, the new offset, the counters, the version bump and the change notice
 *    atomically. Only then is the chunk resolved in Kafka, and the member heartbeats.
 * 4. A script that answers "fenced" means another member claimed the partition: this member drops
 *    the batch and leaves the partition alone until its next assignment. A script that answers
 *    "already applied" (a retry after a timeout whose first attempt did run) counts as applied.
 *    A Redis or Kafka failure is retried with backoff while the member still owns the batch.
 *
 * Kafka's committed offset only ever trails Redis, so a crash at any point replays records that
 * Redis then refuses: nothing is lost, nothing is counted twice.
 *
 * 5. Redis losing the view's state (a restart without persistence, a failover to an empty
 *    replica, FLUSHALL) is noticed and healed by the consumer itself. Every state carries an epoch
 *    marker (`init` creates it, with `rebuilding` and each partition's replay target, when Redis
 *    holds none; see `health/view-state.ts`), and a claim is granted within the current epoch
 *    only. The consumer checks the marker every `stateCheckInterval`, and a claim refused for a
 *    missing marker tells it at once: it then creates the state again (one member wins, the others
 *    adopt it), forgets its claims and seeks every assigned partition back to its low watermark,
 *    idle ones included (they would otherwise never replay). The replay is an ordinary stream of
 *    chunks; once every partition reached its target, `complete` switches the state to `live`
 *    and publishes a status notice (readers resync). Before the replay starts, a topic whose low
 *    watermark is above 0 (retention deleted records) or, for a delta-mode view, a compacted
 *    topic cannot give the figures back: the state is marked incomplete and health is down with
 *    `E_STREAM_LOG_TRUNCATED` / `E_STREAM_LOG_COMPACTED` instead of partial figures read as
 *    complete. The same mark is set when a partition resumes beyond records Kafka deleted.
 *
 * Entity mode (a view with `entity`): offsets only guard redelivery of the same records; the same
 * event produced again at a new offset (an outbox relay that crashed after producing and before
 * marking its rows done), or an older version produced after a newer one by another relay, is
 * caught by version. Redis keeps per entity `<version>:<contribution>` in the generation's
 * entity hash. A chunk is decoded and validated first; then the consumer reads the stored entries
 * of the chunk's entities (one HMGET), walks each entity's events in offset order against its
 * stored version (above: applied; equal: duplicate; below: stale), and plans the deltas: retract
 * the stored contribution, add the last applied version's, store that version and contribution
 * (a tombstone keeps its version and contributes nothing). Only the highest version of a chunk
 * reaches Redis. The apply script checks, besides the token and the offset, that every entity it
 * writes still has the version the plan read; if another partition's script changed one in
 * between it answers "conflict" without writing anything, and the consumer reads and plans again.
 */

import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { hostname } from 'node:os'
import type { Cluster, Redis } from 'ioredis'
import type { Aggregates, View } from '../aggregates/define.js'
import { aggregateSignature, DeltaPlan, encodeContribution, type RowOp } from '../aggregates/plan.js'
import { type Duration, toMs } from '../duration.js'
import { MetricsStreamError, type MetricsStreamErrorCode } from '../errors.js'
import {
  type HealthReason,
  HealthReasons,
  type HealthReport,
  viewReasons,
  worstState,
} from '../health/reasons.js'
import { readViewState, type ViewState } from '../health/view-state.js'
import { type ViewKeys, viewKeys } from '../keys.js'
import { describeRedisFailure, redisAuthFailure, scrubRedisErrors } from '../redact.js'
import { ChunkSizer } from './chunk-sizer.js'
import { compareVersions, entityKey, entityVersion } from './entity.js'
import { ADVANCE, APPLY, CLAIM, COMPLETE, ENTITY_SIGNATURE, INIT, Script, TRUNCATE } from './scripts.js'
import type {
  OutgoingMessage,
  Source,
  SourceBatch,
  SourceBatchContext,
  SourceMessage,
  UndecodableBatch,
} from './source.js'

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
   * Most records per apply script (pre-aggregated in Node first), 1..5000; with a
   * `scriptBudget`, the first chunk's size and the ceiling of the adaptive size.
   * @default 500
   */
  chunkSize?: number | undefined
  /**
   * Target time one apply script may run on the Redis server. Redis runs nothing else meanwhile,
   * so this bounds how long a dashboard read waits behind one script (a read may queue behind
   * one script per partition in flight, see `partitionsConsumedConcurrently`). After every script the
   * consumer reads the script's server time (Redis `TIME` inside the script) and sizes the next
   * chunk to fit, between 1 and `chunkSize` records. A number is milliseconds (`0.25` = 250 us);
   * `Infinity`: fixed chunks of `chunkSize`.
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

/** Counters of one consumer process since it started. */
export interface MetricsConsumerStats {
  /** Events applied to Redis. */
  applied: number
  /** Records skipped because Redis had already applied their offset. */
  duplicates: number
  /** Entity mode: events whose version equals the stored one (produced again), not applied. */
  versionDuplicates: number
  /** Entity mode: events whose version is below the stored one (arrived late), not applied. */
  staleVersions: number
  /** Entity mode: apply scripts refused because an entity changed after the chunk was planned. */
  conflicts: number
  /** Events beyond the allowed lateness (sent to the late topic). */
  late: number
  /** Records sent to the dead-letter topic. */
  deadLettered: number
  /** Apply scripts run. */
  chunks: number
  /** Times this member found a partition claimed by another member. */
  fenced: number
  /** Redis or Kafka failures retried. */
  retries: number
  /** Total and longest apply-script round trip (client side, queueing included), milliseconds. */
  scriptMsTotal: number
  scriptMsMax: number
  /** Total and longest time apply scripts ran on the Redis server, milliseconds. */
  scriptServerMsTotal: number
  scriptServerMsMax: number
  /** Records the next chunk will hold (adapted to `scriptBudget`). */
  chunkSize: number
  /**
   * Times this member repositioned a partition because Kafka's position and Redis's offset
   * disagreed (not counting the filtered gaps of transactional topics, which cost none).
   */
  seeks: number
  /**
   * Fetched record batches the source could not decode (each attempt: a paused partition that
   * fetches the same batch again counts again).
   */
  undecodableBatches: number
  /** Source errors reported (`sourceError` events): undecodable batches and Kafka client crashes. */
  sourceErrors: number
  /** Times this consumer created the view's state and started a replay from the topic (`rebuilding`). */
  rebuilds: number
  /** State checks that could not reach Redis. */
  stateCheckErrors: number
}

/** Emitted as `rebuilding` when this consumer created the view's state and replays the topic. */
export interface RebuildingEvent {
  generation: number
  epoch: string
  /** `created` (no state at start) or `lost` (the state vanished while running). */
  cause: 'created' | 'lost'
  /** Set when the topic cannot give the figures back (`E_STREAM_LOG_TRUNCATED`...). */
  incomplete: MetricsStreamErrorCode | undefined
}

/** A consumer's health: the worst of its reasons, the reasons, and the view's state in Redis. */
export interface ConsumerHealth extends HealthReport {
  /** The state of the generation this consumer writes (undefined when Redis did not answer). */
  readonly view: ViewState | undefined
}

/** A source problem holding now (see {@link MetricsConsumer.sourceErrors}). */
export interface SourceProblem {
  /**
   * `E_STREAM_UNDECODABLE` (a batch of `error.topic`/`error.partition` at `error.offset`) or
   * `E_STREAM_KAFKA` (the Kafka client cannot fetch; no partition).
   */
  readonly error: MetricsStreamError
  /** When it was first reported, epoch milliseconds. */
  readonly since: number
  /** Times it was reported since (a paused partition's fetch attempts). */
  readonly attempts: number
}

/** Emitted as `applied` after each chunk's script returned. */
export interface AppliedEvent {
  topic: string
  partition: number
  /** The chunk's last offset. */
  offset: string
  /** The view version the chunk produced. */
  version: number
  events: number
  /** Script round-trip time (client side, queueing behind other commands included), milliseconds. */
  scriptMs: number
  /** Time the script ran on the Redis server (its own clock), milliseconds. */
  serverMs: number
  /** Now minus the oldest record timestamp of the chunk, milliseconds. */
  latencyMs: number
}

/** Per-partition lag of Redis behind Kafka. */
export interface PartitionLag {
  topic: string
  partition: number
  /** Next offset Kafka will write. */
  high: string
  /** Last offset applied to Redis (-1: none). */
  applied: string
  /** Records written to Kafka and not yet applied to Redis. */
  lag: number
}

interface Owned {
  assignment: number
  token: string
  offset: bigint
  watermark: number
  soughtTo: bigint | undefined
  /** The partition's replay target while the state is rebuilding (undefined: none). */
  target: bigint | undefined
  done: boolean
}

interface ResolvedOptions {
  readonly chunkSize: number
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

const claimScript = new Script(CLAIM)
const advanceScript = new Script(ADVANCE)
const applyScript = new Script(APPLY)
const signatureScript = new Script(ENTITY_SIGNATURE)
const initScript = new Script(INIT)
const completeScript = new Script(COMPLETE)
const truncateScript = new Script(TRUNCATE)

/** Entity mode: consecutive conflicts of one chunk before it is retried with backoff instead. */
const MAX_CONFLICTS = 50
const NO_OPS: readonly RowOp[] = Object.freeze([])

/** One validated event of an entity-mode chunk. */
interface EntityEvent {
  readonly version: string
  readonly ops: readonly RowOp[]
  /** What the entity hash stores when this version is applied. */
  readonly value: string
}

type ApplyReply = [number, string | number, (number | string)?]

/** What a chunk's decoding counted, for the script arguments and the counters. */
interface Tally {
  watermark: number
  applied: number
  late: OutgoingMessage[]
  dead: OutgoingMessage[]
  /** Oldest record timestamp of the chunk (epoch ms). */
  oldest: number
}

function resolve<E>(options: MetricsConsumerOptions<E>): ResolvedOptions {
  const d = DEFAULT_METRICS_CONSUMER_OPTIONS
  const chunkSize = options.chunkSize ?? d.chunkSize
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 5_000) {
    throw new MetricsStreamError(
      'E_STREAM_INVALID_OPTION',
      `chunkSize must be an integer in 1..5000, got ${chunkSize}`,
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
    chunkSize,
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

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms))

/** Lets at most `limit` holders in at a time, in arrival order (`maxScriptsInFlight`). */
class Gate {
  #free: number
  readonly #waiting: Array<() => void> = []
  constructor(limit: number) {
    this.#free = limit
  }
  async enter(): Promise<void> {
    if (this.#free > 0) {
      this.#free--
      return
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve))
  }
  leave(): void {
    const next = this.#waiting.shift()
    if (next === undefined) this.#free++
    else next()
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new MetricsStreamError('E_STREAM_REDIS', `Redis did not answer in ${ms} ms`, { retriable: true }),
        ),
      ms,
    )
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * A consumer maintaining one view's figures in Redis from a {@link Source}. Events: `applied`
 * ({@link AppliedEvent}), `retry` (the error being retried), `fenced` ({ topic, partition }),
 * `sourceError` (a {@link MetricsStreamError}: `E_STREAM_UNDECODABLE` for a batch the source
 * cannot decode, `E_STREAM_KAFKA` when the Kafka client crashed; not `error`, which would kill a
 * process that does not listen while the consumer goes on with the other partitions).
 */
export class MetricsConsumer<E = unknown> extends EventEmitter {
  private readonly options: ResolvedOptions
  private readonly sizer: ChunkSizer
  /** Bounds the apply scripts in flight; undefined when unbounded. */
  private readonly gate: Gate | undefined
  private readonly owned = new Map<string, Owned>()
  private readonly lost = new Map<string, number>()
  private keys: ViewKeys | undefined
  private stopping = false
  private readonly counters: MetricsConsumerStats = {
    applied: 0,
    duplicates: 0,
    versionDuplicates: 0,
    staleVersions: 0,
    conflicts: 0,
    late: 0,
    deadLettered: 0,
    chunks: 0,
    fenced: 0,
    retries: 0,
    scriptMsTotal: 0,
    scriptMsMax: 0,
    scriptServerMsTotal: 0,
    scriptServerMsMax: 0,
    chunkSize: 0,
    seeks: 0,
    undecodableBatches: 0,
    sourceErrors: 0,
    rebuilds: 0,
    stateCheckErrors: 0,
  }
  /** The epoch of the view's state this consumer works in (see the module note, 5). */
  private epoch: string | undefined
  /** Whether readers follow this consumer's generation (the pointer names it, or it started on it). */
  private followsPointer = false
  /** Process-level health reasons (Redis unreachable, a corrupt state). */
  private readonly reasons = new HealthReasons()
  private checkTimer: NodeJS.Timeout | undefined
  private checking = false
  private recovering: Promise<void> | undefined
  private completing: Promise<void> | undefined
  /** Partitions to seek back to their low watermark until claimed in the current epoch. */
  private readonly rewind = new Map<string, { topic: string; partition: number; low: string }>()
  /** Gaps already checked against the low watermark (`topic:partition:next`). */
  private readonly gapsChecked = new Set<string>()
  /** Source problems holding now, by `topic:partition` ('' for the source as a whole). */
  private readonly problems = new Map<string, SourceProblem>()
  /** Backoff of partitions paused at an undecodable batch, milliseconds. */
  private readonly pauseDelays = new Map<string, number>()

  constructor(private readonly config: MetricsConsumerOptions<E>) {
    super()
    this.options = resolve(config)
    this.sizer = new ChunkSizer(this.options.chunkSize, this.options.scriptBudget * 1_000)
    this.gate =
      this.options.maxScriptsInFlight === Number.POSITIVE_INFINITY
        ? undefined
        : new Gate(this.options.maxScriptsInFlight)
    // Validates namespace and view name now, not at the first batch.
    viewKeys(config.namespace, config.view.name, config.generation ?? 1)
    // Refused credentials reject commands with ioredis' AUTH error, password inside: scrub it.
    scrubRedisErrors(config.redis)
  }

  /** Why the last `start()` failed (reported by `health()` until a start succeeds). */
  private startFailure: { error: MetricsStreamError; since: number } | undefined

  /** The generation this consumer writes (known after `start()`). */
  get generation(): number | undefined {
    return this.keys?.generation
  }

  /**
   * Resolve the generation, then join the group and start applying.
   *
   * A failed start (Redis or Kafka unreachable, refused credentials) rejects with a
   * {@link MetricsStreamError} (`E_STREAM_REDIS`, `E_STREAM_REDIS_AUTH`, `E_STREAM_KAFKA`,
   * `E_STREAM_KAFKA_AUTH`...), leaves nothing running, is reported by `health()` (down, with that
   * error's code and message) and may be retried by calling `start()` again.
   */
  async start(): Promise<void> {
    try {
      await this.startOnce()
      this.startFailure = undefined
    } catch (error) {
      const reported =
        error instanceof MetricsStreamError
          ? error
          : redisError(this.config.redis, 'Starting the consumer failed on Redis', error)
      this.startFailure = { error: reported, since: this.startFailure?.since ?? Date.now() }
      throw reported
    }
  }

  private async startOnce(): Promise<void> {
    const { redis, namespace, view } = this.config
    let generation = this.config.generation
    if (generation === undefined) {
      const pointer = await redis.get(viewKeys(namespace, view.name, 1).pointer)
      generation = pointer ? Number(pointer) : 1
      this.followsPointer = true
    }
    this.keys = viewKeys(namespace, view.name, generation)
    // Kafka may refuse the watermarks for a moment (a topic just created: "not the leader").
    for (let delay = this.options.retryDelay, attempt = 1; ; attempt++) {
      try {
        await this.initState('created')
        break
      } catch (error) {
        if (!isRetriable(error) || attempt >= 10) throw error
        this.counters.retries++
        if (this.listenerCount('retry') > 0) this.emit('retry', error)
        await sleep(delay)
        delay = Math.min(delay * 2, this.options.maxRetryDelay)
      }
    }
    await this.config.source.start((batch, context) => this.handle(batch, context), {
      error: (error) => this.reportSourceError('', error),
      recovered: () => {
        this.problems.delete('')
      },
    })
    this.checkTimer = setInterval(() => void this.checkState(), this.options.stateCheckInterval)
    this.checkTimer.unref()
  }

  /** Stop applying and leave the group. In-flight chunks finish or are abandoned unresolved. */
  async stop(): Promise<void> {
    this.stopping = true
    clearInterval(this.checkTimer)
    await this.config.source.stop()
  }

  /**
   * Health: `down` when the view's state is missing, corrupt or incomplete (the topic lost events
   * it needs), or the source cannot decode a batch or fetch; `degraded` while the view is rebuilt
   * from the topic or the state check cannot reach Redis; `up` otherwise. Reads the state of the
   * generation this consumer writes from Redis (one round trip, two while rebuilding).
   */
  async health(): Promise<ConsumerHealth> {
    const reasons: HealthReason[] = this.reasons.list()
    let view: ViewState | undefined
    const keys = this.keys
    const failure = this.startFailure
    if (failure !== undefined) {
      reasons.push({
        code: failure.error.code,
        state: 'down',
        message: `The consumer could not start: ${failure.error.message}`,
        since: failure.since,
      })
    } else if (keys === undefined) {
      reasons.push({
        code: 'E_STREAM_CLOSED',
        state: 'down',
        message: 'The consumer has not started',
        since: Date.now(),
      })
    } else {
      try {
        const { namespace, redis } = this.config
        const name = this.config.view.name
        view = await withTimeout(
          readViewState(redis, (g) => viewKeys(namespace, name, g), keys.generation),
          this.options.scriptTimeout,
        )
        reasons.push(...viewReasons(view))
      } catch (error) {
        const failed = redisError(this.config.redis, "Reading the view's state from Redis failed", error)
        reasons.push({ code: failed.code, state: 'down', message: failed.message, since: Date.now() })
      }
    }
    // A batch the source cannot decode, or a Kafka client that cannot fetch: the figures stall.
    for (const problem of this.sourceErrors()) {
      const { error } = problem
      reasons.push({
        code: error.code,
        state: 'down',
        message: error.message,
        since: problem.since,
        topic: error.topic,
        partition: error.partition,
      })
    }
    return { state: worstState(reasons), reasons, view }
  }

  /**
   * Create the generation's state when Redis holds none, or adopt the one it holds (the `init`
   * script): from then on this consumer claims within that state's epoch. A state created here is
   * a replay of the topic from its start; every assigned partition is sought back to it.
   *
   * @throws MetricsStreamError `E_STREAM_STATE_CORRUPT` when partition offsets survive without
   * the state marker (a partial loss)
   */
  private async initState(cause: 'created' | 'lost'): Promise<void> {
    const keys = this.requireKeys()
    const { redis, source, view } = this.config
    const parts: Array<{ topic: string; partition: number; high: string; low: string }> = []
    for (const topic of source.topics) {
      for (const w of await source.highWatermarks(topic)) parts.push({ topic, ...w })
    }
    parts.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
    const truncation = await this.truncation(parts)
    const scriptKeys = [keys.meta, keys.pointer, `${keys.slot}:generations`]
    const argv = [
      randomUUID(),
      String(Date.now()),
      String(keys.generation),
      this.followsPointer ? '1' : '0',
      cause,
      truncation?.code ?? '',
      truncation?.message ?? '',
      parts.map((p) => `${p.topic}:${p.partition}`).join(' '),
      keys.channel,
    ]
    for (const p of parts) {
      scriptKeys.push(keys.partition(p.topic, p.partition))
      argv.push(p.high, p.low)
    }
    const reply = (await withTimeout(
      initScript.run(redis, scriptKeys, argv),
      this.options.scriptTimeout,
    )) as [number, string, string?]
    if (reply[0] === -1) {
      const message = `Redis holds offsets of view ${view.name} generation ${keys.generation} (${reply[1]}) without its state marker: a partial loss (evicted keys? run Redis with maxmemory-policy noeviction). Replaying into it would count events twice: rebuild into a new generation (startRebuild).`
      this.reasons.set({ code: 'E_STREAM_STATE_CORRUPT', state: 'down', message })
      throw new MetricsStreamError('E_STREAM_STATE_CORRUPT', message, { view: view.name })
    }
    this.reasons.clear('E_STREAM_STATE_CORRUPT')
    const before = this.epoch
    this.epoch = reply[1]
    if (before !== reply[1]) {
      this.owned.clear()
      this.lost.clear()
      this.rewind.clear()
    }
    // A new state (created here, or by another member after a loss) is a replay from the start.
    if (reply[0] === 2 || (before !== undefined && before !== reply[1])) {
      for (const p of parts) {
        if (BigInt(p.high) > BigInt(p.low)) {
          this.rewind.set(`${p.topic}:${p.partition}`, { topic: p.topic, partition: p.partition, low: p.low })
        }
      }
      this.rewindIdle()
    }
    if (reply[0] === 2) {
      this.counters.rebuilds++
      if (this.listenerCount('rebuilding') > 0) {
        const event: RebuildingEvent = {
          generation: keys.generation,
          epoch: reply[1],
          cause,
          incomplete: truncation?.code,
        }
        this.emit('rebuilding', event)
      }
    }
    if (view.mode === 'entity') await this.checkEntityAggregates(keys)
  }

  /** Why a replay from the start cannot give the figures back, if it cannot. */
  private async truncation(
    parts: ReadonlyArray<{ topic: string; partition: number; low: string }>,
  ): Promise<{ code: MetricsStreamErrorCode; message: string } | undefined> {
    if (!this.options.requireCompleteHistory) return undefined
    const cut = parts.find((p) => BigInt(p.low) > 0n)
    if (cut) {
      return {
        code: 'E_STREAM_LOG_TRUNCATED',
        message: `${cut.topic}/${cut.partition} starts at offset ${cut.low}: the records before it were deleted (retention or deleteRecords), so a replay from the start cannot count them`,
      }
    }
    const { source, view } = this.config
    if (view.mode === 'delta' && source.cleanupPolicy) {
      for (const topic of source.topics) {
        const policy = await source.cleanupPolicy(topic)
        if (policy?.includes('compact')) {
          return {
            code: 'E_STREAM_LOG_COMPACTED',
            message: `${topic} is compacted (cleanup.policy=${policy}): it keeps each key's latest record only, which a delta-mode view cannot be rebuilt from (an entity-mode view can)`,
          }
        }
      }
    }
    return undefined
  }

  /** The state check (every `stateCheckInterval`): see the module note, 5. */
  private async checkState(): Promise<void> {
    if (this.checking || this.stopping || this.keys === undefined) return
    this.checking = true
    const keys = this.keys
    try {
      const replies = await withTimeout(
        this.config.redis.multi().hmget(keys.meta, 'epoch', 'status').get(keys.pointer).exec(),
        this.options.scriptTimeout,
      )
      const [meta, pointer] = (replies ?? []).map(([error, value]) => {
        if (error) throw error
        return value
      }) as [Array<string | null>, string | null]
      this.reasons.clear('E_STREAM_REDIS')
      if (pointer === String(keys.generation)) this.followsPointer = true
      if ((meta[0] ?? undefined) !== this.epoch) await this.recover()
      else if (meta[1] === 'rebuilding') await this.complete()
      this.rewindIdle()
    } catch (error) {
      this.counters.stateCheckErrors++
      if (!(error instanceof MetricsStreamError && error.code === 'E_STREAM_STATE_CORRUPT')) {
        this.reasons.set({
          code: 'E_STREAM_REDIS',
          state: 'degraded',
          message: `Checking the view's state in Redis failed (retried every ${this.options.stateCheckInterval} ms): ${error instanceof Error ? error.message : String(error)}`,
        })
      }
      if (this.listenerCount('retry') > 0) this.emit('retry', error)
    } finally {
      this.checking = false
    }
  }

  /** Create or adopt the view's state after it changed under this consumer (single flight). */
  private recover(): Promise<void> {
    this.recovering ??= this.initState('lost').finally(() => {
      this.recovering = undefined
    })
    return this.recovering
  }

  /** Seek the partitions of a new state back to their start until they are claimed in it. */
  private rewindIdle(): void {
    const { source } = this.config
    if (source.seek === undefined) return
    for (const [id, { topic, partition, low }] of this.rewind) {
      if (this.owned.has(id)) this.rewind.delete(id)
      else if (source.isAssigned(topic, partition)) source.seek(topic, partition, low)
    }
  }

  /** Switch a rebuilding state to live once every partition reached its target. */
  private async complete(): Promise<void> {
    const keys = this.requireKeys()
    const { redis } = this.config
    const list = await withTimeout(redis.hget(keys.meta, 'partitions'), this.options.scriptTimeout)
    const scriptKeys = [keys.meta]
    for (const entry of list ? list.split(' ') : []) {
      const colon = entry.lastIndexOf(':')
      scriptKeys.push(keys.partition(entry.slice(0, colon), Number(entry.slice(colon + 1))))
    }
    const argv = [this.epoch ?? '', keys.channel, String(keys.generation), String(Date.now())]
    const reply = (await withTimeout(
      completeScript.run(redis, scriptKeys, argv),
      this.options.scriptTimeout,
    )) as [number, number | string]
    if (reply[0] === -4) await this.recover()
    else if (reply[0] === 2) {
      this.rewind.clear()
      if (this.listenerCount('live') > 0)
        this.emit('live', { generation: keys.generation, epoch: this.epoch })
    }
  }

  /** `complete()` without waiting, once at a time (a chunk reached its partition's target). */
  private completeSoon(): void {
    if (this.completing !== undefined) return
    this.completing = this.complete()
      .catch((error: unknown) => {
        // The state check completes it at its next run; counted and told meanwhile.
        this.counters.stateCheckErrors++
        if (this.listenerCount('retry') > 0) this.emit('retry', error)
      })
      .finally(() => {
        this.completing = undefined
      })
  }

  /**
   * A partition resumed beyond stored + 1 after seeking back: records Kafka no longer holds, or
   * compacted gaps. Only the low watermark tells them apart (checked once per gap).
   */
  private noteGap(topic: string, partition: number, next: bigint): void {
    const id = `${topic}:${partition}:${next}`
    if (!this.options.requireCompleteHistory || this.gapsChecked.has(id)) return
    this.gapsChecked.add(id)
    const keys = this.requireKeys()
    const check = async () => {
      const low = (await this.config.source.highWatermarks(topic)).find((w) => w.partition === partition)?.low
      if (low === undefined || BigInt(low) <= next) return
      const message = `${topic}/${partition} resumed at offset ${low} while offset ${next} was the next to apply: the records in between were deleted (retention or deleteRecords) before this consumer applied them`
      const argv = [
        this.epoch ?? '',
        'E_STREAM_LOG_TRUNCATED',
        message,
        keys.channel,
        String(keys.generation),
      ]
      await truncateScript.run(this.config.redis, [keys.meta], argv)
    }
    check().catch((error: unknown) => {
      this.gapsChecked.delete(id)
      if (this.listenerCount('retry') > 0) this.emit('retry', error)
    })
  }

  /**
   * Source problems holding now: a partition stopped at a batch it cannot decode (until it
   * decodes, or is dead-lettered, or the partition is revoked), the Kafka client down (until it
   * fetches again). Empty when the source is healthy; health is down while it is not.
   */
  sourceErrors(): SourceProblem[] {
    const holding: SourceProblem[] = []
    for (const [id, problem] of this.problems) {
      const { topic, partition } = problem.error
      if (
        id !== '' &&
        (topic === undefined || partition === undefined || !this.config.source.isAssigned(topic, partition))
      ) {
        this.problems.delete(id)
        continue
      }
      holding.push(problem)
    }
    return holding
  }

  private reportSourceError(id: string, error: MetricsStreamError): void {
    const known = this.problems.get(id)
    this.problems.set(id, {
      error,
      since: known?.since ?? Date.now(),
      attempts: (known?.attempts ?? 0) + 1,
    })
    this.counters.sourceErrors++
    if (this.listenerCount('sourceError') > 0) this.emit('sourceError', error)
  }

  /** Counters since start (a copy). */
  stats(): MetricsConsumerStats {
    return { ...this.counters, chunkSize: this.sizer.size }
  }

  /** Lag of Redis's applied offsets behind Kafka's high watermarks, per partition. */
  async lag(): Promise<PartitionLag[]> {
    const keys = this.requireKeys()
    return computeLag(this.config.redis, keys, this.config.source)
  }

  /**
   * An entity's stored contribution names aggregates by position: within a generation the view's
   * aggregates may be appended to, never reordered, removed or changed (rebuild instead).
   */
  private async checkEntityAggregates(keys: ViewKeys): Promise<void> {
    const signature = aggregateSignature(this.config.view.aggregates).join(' ')
    const stored = (await withTimeout(
      signatureScript.run(this.config.redis, [keys.meta], [signature]),
      this.options.scriptTimeout,
    )) as string
    if (stored === 'delta') {
      throw new MetricsStreamError(
        'E_STREAM_INVALID_OPTION',
        `Generation ${keys.generation} of view ${this.config.view.name} was built in delta mode: entity mode needs the stored contribution of every entity it retracts. Rebuild into a new generation with the entity view (startRebuild), then promote it`,
        { view: this.config.view.name },
      )
    }
    if (stored !== '') {
      throw new MetricsStreamError(
        'E_STREAM_INVALID_OPTION',
        `The aggregates of entity view ${this.config.view.name} changed in generation ${keys.generation} (stored: ${stored}; now: ${signature}): only appending is allowed; rebuild into a new generation (startRebuild)`,
        { view: this.config.view.name },
      )
    }
  }

  private requireKeys(): ViewKeys {
    if (!this.keys) throw new MetricsStreamError('E_STREAM_CLOSED', 'The consumer has not started')
    return this.keys
  }

  private async handle(batch: SourceBatch, context: SourceBatchContext): Promise<void> {
    const { topic, partition, messages, undecodable } = batch
    const first = messages[0]
    // The last offset the batch covers (records after its last message were filtered out).
    const through = batch.lastOffset ?? messages[messages.length - 1]?.offset
    if ((through === undefined && undecodable === undefined) || this.stopping) return
    if (!this.config.source.isAssigned(topic, partition)) return
    const id = `${topic}:${partition}`
    let owned = this.owned.get(id)
    if (!owned || owned.assignment !== context.assignment) {
      if (this.lost.get(id) === context.assignment) return
      owned = await this.retrying(context, () => this.claim(topic, partition, context.assignment))
      if (!owned) return
      this.owned.set(id, owned)
    }
    const next = owned.offset + 1n
    const from = BigInt(batch.fetchedOffset ?? first?.offset ?? (undecodable as UndecodableBatch).firstOffset)
    if (from > next && owned.soughtTo !== next) {
      // Kafka is ahead of Redis: Redis is the truth, go back (once; a gap that remains after the
      // seek is data Kafka no longer has).
      owned.soughtTo = next
      this.counters.seeks++
      context.seek(String(next))
      return
    }
    if (from > next) this.noteGap(topic, partition, next)
    let start = 0
    while (start < messages.length && BigInt((messages[start] as SourceMessage).offset) < next) start++
    this.counters.duplicates += start
    if (
      start === messages.length &&
      undecodable === undefined &&
      BigInt(through as string) + 1n < next &&
      owned.soughtTo !== next
    ) {
      // Redis is ahead of Kafka (Kafka committed rarely before a crash): jump instead of
      // fetching and skipping every record in between (once per claim).
      owned.soughtTo = next
      this.counters.seeks++
      context.seek(String(next))
      return
    }
    let committed: string | undefined
    for (let i = start; i < messages.length; ) {
      if (!context.isActive() || this.stopping) return
      const chunk = messages.slice(i, i + this.sizer.size)
      i += chunk.length
      const done = await this.retrying(context, () =>
        this.applyChunk(topic, partition, owned, chunk, context),
      )
      if (done !== true) return
      committed = (chunk[chunk.length - 1] as SourceMessage).offset
      await context.commit(committed)
      await context.heartbeat()
    }
    if (through !== undefined && through !== committed) {
      if (BigInt(through) > owned.offset) {
        // Filtered records close the batch (a commit marker, aborted records): step over them.
        const done = await this.retrying(context, () => this.advance(topic, partition, owned, through, 0))
        if (done !== true) return
      }
      await context.commit(through)
    }
    if (undecodable !== undefined) await this.onUndecodable(topic, partition, owned, undecodable, context)
    else if (this.problems.has(id)) {
      this.problems.delete(id)
      this.pauseDelays.delete(id)
    }
  }

  /**
   * Move the stored offset to `offset` over records that count for nothing (filtered ones) or,
   * with `dead` > 0, that were dead-lettered whole (an undecodable batch). Resolves like
   * {@link applyChunk}. No version bump: the figures did not change.
   */
  private async advance(
    topic: string,
    partition: number,
    owned: Owned,
    offset: string,
    dead: number,
  ): Promise<boolean> {
    const keys = this.requireKeys()
    const id = `${topic}:${partition}`
    const reply = (await withTimeout(
      advanceScript.run(
        this.config.redis,
        [keys.partition(topic, partition)],
        [owned.token, String(owned.offset + 1n), offset, String(dead)],
      ),
      this.options.scriptTimeout,
    )) as [number, string]
    if (reply[0] === -1) {
      this.counters.fenced++
      if (this.owned.get(id) === owned) this.owned.delete(id)
      if (reply[1] !== '') this.lost.set(id, owned.assignment)
      if (this.listenerCount('fenced') > 0) this.emit('fenced', { topic, partition })
      return false
    }
    if (reply[0] === -2 && BigInt(reply[1]) < BigInt(offset)) {
      owned.offset = BigInt(reply[1])
      return false
    }
    owned.offset = BigInt(offset)
    this.counters.deadLettered += reply[0] === 1 ? dead : 0
    return true
  }

  /** A batch the source could not decode: see `undecodableBatches` and the module note (2b). */
  private async onUndecodable(
    topic: string,
    partition: number,
    owned: Owned,
    bad: UndecodableBatch,
    context: SourceBatchContext,
  ): Promise<void> {
    if (!context.isActive()) return
    if (BigInt(bad.lastOffset) <= owned.offset) {
      // Applied before (when it still decoded): a redelivery like any other.
      this.counters.duplicates += bad.records
      await context.commit(bad.lastOffset)
      return
    }
    const id = `${topic}:${partition}`
    this.counters.undecodableBatches++
    this.reportSourceError(id, bad.error)
    if (this.options.undecodableBatches === 'dead-letter') {
      const letter: OutgoingMessage = {
        key: null,
        value: bad.raw,
        headers: {
          'x-error-code': bad.error.code,
          'x-error': bad.error.message.slice(0, 1_000),
          'x-source-topic': topic,
          'x-source-partition': String(partition),
          'x-source-offset': bad.firstOffset,
          'x-source-last-offset': bad.lastOffset,
          'x-records': String(bad.records),
        },
      }
      const sent = await this.retrying(context, async () => {
        await this.config.source.send(this.config.deadLetterTopic ?? `${topic}.dlq`, [letter])
        return true
      })
      if (sent !== true || !context.isActive()) return
      const done = await this.retrying(context, () =>
        this.advance(topic, partition, owned, bad.lastOffset, bad.records),
      )
      if (done !== true) return
      await context.commit(bad.lastOffset)
      this.problems.delete(id)
      return
    }
    const delay = this.pauseDelays.get(id) ?? this.options.retryDelay
    this.pauseDelays.set(id, Math.min(delay * 2, this.options.maxRetryDelay))
    context.pause?.(delay)
  }

  private async claim(topic: string, partition: number, assignment: number): Promise<Owned> {
    const keys = this.requireKeys()
    for (let attempt = 1; ; attempt++) {
      const token = randomUUID()
      const reply = (await withTimeout(
        claimScript.run(
          this.config.redis,
          [keys.partition(topic, partition), keys.meta],
          [token, this.options.owner, this.epoch ?? ''],
        ),
        this.options.scriptTimeout,
      )) as [number, string, string, string, string]
      if (reply[0] === -4) {
        // The view's state is not the one this member knows: Redis lost it, or another member
        // created it again. Create or adopt it, then claim within it.
        if (attempt >= 3) {
          throw new MetricsStreamError(
            'E_STREAM_REDIS',
            `The state of view ${this.config.view.name} changed while claiming ${topic}/${partition}`,
            { topic, partition, view: this.config.view.name, retriable: true },
          )
        }
        await this.recover()
        continue
      }
      const watermark = reply[2] === '' ? Number.NEGATIVE_INFINITY : Number(reply[2])
      return {
        assignment,
        token,
        offset: BigInt(reply[1]),
        watermark,
        soughtTo: undefined,
        target: reply[3] === '' ? undefined : BigInt(reply[3]),
        done: reply[4] === '1',
      }
    }
  }

  /** Apply one chunk. Resolves true when applied, false when the batch must be dropped. */
  private async applyChunk(
    topic: string,
    partition: number,
    owned: Owned,
    chunk: SourceMessage[],
    context: SourceBatchContext,
  ): Promise<boolean> {
    const keys = this.requireKeys()
    const { view } = this.config
    if (view.mode === 'entity') return this.applyEntityChunk(topic, partition, owned, chunk, context)
    const plan = new DeltaPlan(view.aggregates, keys)
    const dead: OutgoingMessage[] = []
    const late: OutgoingMessage[] = []
    let watermark = owned.watermark
    let applied = 0
    let oldest = Number.POSITIVE_INFINITY
    for (const message of chunk) {
      const ts = Number(message.timestamp)
      if (ts < oldest) oldest = ts
      let event: E
      let at: number
      try {
        if (message.value === null)
          throw new MetricsStreamError('E_STREAM_INVALID_EVENT', 'Record has no value')
        event = view.decode(JSON.parse(message.value.toString('utf8')))
        const time = view.eventTime(event)
        at = typeof time === 'number' ? time : time.getTime()
        if (!Number.isFinite(at))
          throw new MetricsStreamError('E_STREAM_INVALID_EVENT', 'Event time is not a date')
        if (at < watermark - this.options.allowedLateness) {
          late.push(forward(message, topic, partition, { 'x-watermark': String(watermark) }))
          continue
        }
        const rows = view.rows(event)
        plan.addEvent(rows.add, rows.retract)
      } catch (error) {
        const code = error instanceof MetricsStreamError ? error.code : 'E_STREAM_INVALID_EVENT'
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
        dead.push(
          forward(message, topic, partition, { 'x-error-code': code, 'x-error': reason.slice(0, 1_000) }),
        )
        continue
      }
      if (at > watermark) watermark = at
      applied++
    }
    if (dead.length > 0) await this.config.source.send(this.config.deadLetterTopic ?? `${topic}.dlq`, dead)
    if (late.length > 0) await this.config.source.send(this.config.lateTopic ?? `${topic}.late`, late)
    if (!context.isActive()) return false

    const scriptKeys = [keys.partition(topic, partition), keys.meta, keys.entities]
    const tally: Tally = { watermark, applied, late, dead, oldest }
    const argv = this.fixedArgs(keys, topic, partition, owned, chunk, tally)
    argv.push('0', '0', '0')
    plan.encode(scriptKeys, argv)
    const began = performance.now()
    const reply = await this.runApply(scriptKeys, argv)
    return this.settle(topic, partition, owned, chunk, reply, performance.now() - began, tally)
  }

  /** Script ARGV 1..9, shared by both modes. */
  private fixedArgs(
    keys: ViewKeys,
    topic: string,
    partition: number,
    owned: Owned,
    chunk: SourceMessage[],
    { watermark, applied, late, dead, oldest }: Tally,
  ): string[] {
    const lastOffset = (chunk[chunk.length - 1] as SourceMessage).offset
    return [
      owned.token,
      (chunk[0] as SourceMessage).offset,
      lastOffset,
      Number.isFinite(watermark) ? String(watermark) : '',
      String(applied),
      String(late.length),
      String(dead.length),
      keys.channel,
      `${keys.generation} ${topic} ${partition} ${lastOffset} ${Number.isFinite(oldest) ? oldest : 0}`,
    ]
  }

  /** Run the apply script within `maxScriptsInFlight` and `scriptTimeout`. */
  private async runApply(scriptKeys: string[], argv: string[]): Promise<ApplyReply> {
    const gate = this.gate
    if (gate !== undefined) await gate.enter()
    try {
      return (await withTimeout(
        applyScript.run(this.config.redis, scriptKeys, argv),
        this.options.scriptTimeout,
      )) as ApplyReply
    } finally {
      gate?.leave()
    }
  }

  /**
   * Entity mode: one chunk, planned against the stored versions and applied with a
   * compare-and-set on them (see the module note). Resolves like {@link applyChunk}.
   */
  private async applyEntityChunk(
    topic: string,
    partition: number,
    owned: Owned,
    chunk: SourceMessage[],
    context: SourceBatchContext,
  ): Promise<boolean> {
    const keys = this.requireKeys()
    const { view } = this.config
    const entity = view.entity as NonNullable<typeof view.entity>
    // Computes each row's contribution (and validates it) before anything is planned.
    const shapes = new DeltaPlan(view.aggregates, keys)
    const changes = new Map<string, EntityEvent[]>()
    const dead: OutgoingMessage[] = []
    const late: OutgoingMessage[] = []
    let watermark = owned.watermark
    let oldest = Number.POSITIVE_INFINITY
    for (const message of chunk) {
      const ts = Number(message.timestamp)
      if (ts < oldest) oldest = ts
      let at: number
      try {
        if (message.value === null)
          throw new MetricsStreamError('E_STREAM_INVALID_EVENT', 'Record has no value')
        const event = view.decode(JSON.parse(message.value.toString('utf8')))
        const time = view.eventTime(event)
        at = typeof time === 'number' ? time : time.getTime()
        if (!Number.isFinite(at))
          throw new MetricsStreamError('E_STREAM_INVALID_EVENT', 'Event time is not a date')
        if (at < watermark - this.options.allowedLateness) {
          late.push(forward(message, topic, partition, { 'x-watermark': String(watermark) }))
          continue
        }
        const change = entity(event)
        if (change === null || typeof change !== 'object') {
          throw new MetricsStreamError('E_STREAM_INVALID_ENTITY', 'entity() did not return an object')
        }
        const key = entityKey(change.key)
        const version = entityVersion(change.version)
        const row = change.row
        if (row === undefined) {
          throw new MetricsStreamError(
            'E_STREAM_INVALID_ENTITY',
            'entity() returned no row: return null for a deletion',
          )
        }
        const ops = row === null ? NO_OPS : shapes.rowOps(row)
        const value = `${version}:${row === null ? '' : encodeContribution(ops)}`
        const list = changes.get(key)
        if (list === undefined) changes.set(key, [{ version, ops, value }])
        else list.push({ version, ops, value })
      } catch (error) {
        const code = error instanceof MetricsStreamError ? error.code : 'E_STREAM_INVALID_EVENT'
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
        dead.push(
          forward(message, topic, partition, { 'x-error-code': code, 'x-error': reason.slice(0, 1_000) }),
        )
        continue
      }
      if (at > watermark) watermark = at
    }
    if (dead.length > 0) await this.config.source.send(this.config.deadLetterTopic ?? `${topic}.dlq`, dead)
    if (late.length > 0) await this.config.source.send(this.config.lateTopic ?? `${topic}.late`, late)

    const names = [...changes.keys()]
    for (let attempt = 1; ; attempt++) {
      if (!context.isActive()) return false
      const found: Array<string | null> =
        names.length === 0
          ? []
          : await withTimeout(this.config.redis.hmget(keys.entities, ...names), this.options.scriptTimeout)
      const plan = new DeltaPlan(view.aggregates, keys)
      const writes: string[] = []
      let applied = 0
      let duplicates = 0
      let stale = 0
      for (let k = 0; k < names.length; k++) {
        const name = names[k] as string
        const stored = found[k] ?? null
        const colon = stored === null ? -1 : stored.indexOf(':')
        if (stored !== null && colon <= 0) {
          throw new MetricsStreamError(
            'E_STREAM_STATE_CORRUPT',
            `Entity ${JSON.stringify(name)} of view ${view.name} holds ${JSON.stringify(stored.slice(0, 100))}`,
            { view: view.name },
          )
        }
        const storedVersion = stored === null ? '' : stored.slice(0, colon)
        let current = storedVersion
        let winner: EntityEvent | undefined
        for (const change of changes.get(name) as EntityEvent[]) {
          const order = current === '' ? 1 : compareVersions(change.version, current)
          if (order > 0) {
            applied++
            current = change.version
            winner = change
            plan.mergeDistinct(change.ops)
          } else if (order === 0) duplicates++
          else stale++
        }
        if (winner === undefined) continue
        if (stored !== null) plan.retractStored(stored.slice(colon + 1))
        plan.mergeOps(winner.ops, 1)
        writes.push(name, storedVersion, winner.value)
      }
      const scriptKeys = [keys.partition(topic, partition), keys.meta, keys.entities]
      const tally: Tally = { watermark, applied, late, dead, oldest }
      const argv = this.fixedArgs(keys, topic, partition, owned, chunk, tally)
      argv.push(String(writes.length / 3), String(duplicates), String(stale), ...writes)
      plan.encode(scriptKeys, argv)
      const began = performance.now()
      const reply = await this.runApply(scriptKeys, argv)
      const scriptMs = performance.now() - began
      if (reply[0] === -3) {
        // Another script changed one of these entities after the HMGET: read and plan again.
        this.counters.conflicts++
        if (attempt >= MAX_CONFLICTS) {
          throw new MetricsStreamError(
            'E_STREAM_REDIS',
            `${attempt} conflicts in a row on one chunk of ${topic}/${partition} (entity ${String(reply[1])})`,
            { topic, partition, view: view.name, retriable: true },
          )
        }
        continue
      }
      if (reply[0] === 1) {
        this.counters.versionDuplicates += duplicates
        this.counters.staleVersions += stale
      }
      return this.settle(topic, partition, owned, chunk, reply, scriptMs, tally)
    }
  }

  /** Account for an apply script's reply. Resolves true when applied, false to drop the batch. */
  private settle(
    topic: string,
    partition: number,
    owned: Owned,
    chunk: SourceMessage[],
    reply: ApplyReply,
    scriptMs: number,
    { watermark, applied, late, dead, oldest }: Tally,
  ): boolean {
    const lastOffset = (chunk[chunk.length - 1] as SourceMessage).offset
    const id = `${topic}:${partition}`
    if (reply[0] === -1) {
      this.counters.fenced++
      // Only forget this claim: a newer claim of the same member (a later assignment) stays.
      if (this.owned.get(id) === owned) this.owned.delete(id)
      // An empty token means the state vanished (Redis lost its data): claim again right away.
      if (reply[1] !== '') this.lost.set(id, owned.assignment)
      if (this.listenerCount('fenced') > 0) this.emit('fenced', { topic, partition })
      return false
    }
    if (reply[0] === -2) {
      const stored = BigInt(reply[1])
      if (stored < BigInt(lastOffset)) {
        owned.offset = stored
        return false
      }
      // A timed-out first attempt of this very chunk did run: it is applied.
    }
    owned.offset = BigInt(lastOffset)
    owned.watermark = watermark
    if (owned.target !== undefined && !owned.done && owned.offset + 1n >= owned.target) {
      owned.done = true
      this.completeSoon()
    }
    const c = this.counters
    c.applied += applied
    c.late += late.length
    c.deadLettered += dead.length
    c.chunks++
    c.scriptMsTotal += scriptMs
    if (scriptMs > c.scriptMsMax) c.scriptMsMax = scriptMs
    // A retry answered "already applied" has no server time; it is not a sample of the cost.
    const serverMs = reply[0] === 1 && typeof reply[2] === 'number' ? reply[2] / 1_000 : 0
    if (reply[0] === 1) {
      c.scriptServerMsTotal += serverMs
      if (serverMs > c.scriptServerMsMax) c.scriptServerMsMax = serverMs
      this.sizer.observe(chunk.length, serverMs * 1_000)
    }
    if (this.listenerCount('applied') > 0) {
      const event: AppliedEvent = {
        topic,
        partition,
        offset: lastOffset,
        version: reply[0] === 1 ? Number(reply[1]) : 0,
        events: applied,
        scriptMs,
        serverMs,
        latencyMs: Number.isFinite(oldest) ? Date.now() - oldest : 0,
      }
      this.emit('applied', event)
    }
    return true
  }

  /** Run `step`, retrying retriable failures with backoff while the batch is still ours. */
  private async retrying<T>(context: SourceBatchContext, step: () => Promise<T>): Promise<T | undefined> {
    let delay = this.options.retryDelay
    for (;;) {
      try {
        return await step()
      } catch (error) {
        if (!isRetriable(error)) {
          throw error instanceof MetricsStreamError
            ? error
            : new MetricsStreamError('E_STREAM_REDIS', `Redis refused the apply script: ${String(error)}`, {
                cause: error,
              })
        }
        if (!context.isActive() || this.stopping) return undefined
        this.counters.retries++
        if (this.listenerCount('retry') > 0) this.emit('retry', error)
        await sleep(delay)
        delay = Math.min(delay * 2, this.options.maxRetryDelay)
        await context.heartbeat()
      }
    }
  }
}

/**
 * A Redis failure as this package reports it: `E_STREAM_REDIS_AUTH` (not retriable) naming the
 * server and the user when Redis refused the credentials, `E_STREAM_REDIS` otherwise; the cause
 * scrubbed of secrets (redact.ts).
 */
function redisError(redis: Redis | Cluster, context: string, error: unknown): MetricsStreamError {
  if (error instanceof MetricsStreamError) return error
  const message = describeRedisFailure(redis, context, error)
  const auth = redisAuthFailure(error) !== undefined
  return new MetricsStreamError(auth ? 'E_STREAM_REDIS_AUTH' : 'E_STREAM_REDIS', message, {
    retriable: !auth,
    cause: error,
  })
}

/** Redis replies that mean "try again later"; any other reply error is a bug or a misconfiguration. */
const TRANSIENT_REPLY = /^(BUSY|LOADING|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS)/

/**
 * Connection failures and timeouts are retried; a Redis error reply (a wrong key type, a script
 * error) is not, since retrying would loop forever: it fails the batch loudly instead.
 */
function isRetriable(error: unknown): boolean {
  if (error instanceof MetricsStreamError) return error.retriable
  if (error instanceof Error && error.name === 'ReplyError') return TRANSIENT_REPLY.test(error.message)
  return true
}

function forward(
  message: SourceMessage,
  topic: string,
  partition: number,
  extra: Record<string, string>,
): OutgoingMessage {
  return {
    key: message.key,
    value: message.value,
    headers: {
      'x-source-topic': topic,
      'x-source-partition': String(partition),
      'x-source-offset': message.offset,
      'x-source-timestamp': message.timestamp,
      ...extra,
    },
  }
}

/** @internal Lag per partition of every source topic. */
export async function computeLag(
  redis: Redis | Cluster,
  keys: ViewKeys,
  source: Source,
): Promise<PartitionLag[]> {
  const result: PartitionLag[] = []
  for (const topic of source.topics) {
    const highs = await source.highWatermarks(topic)
    const pipeline = redis.pipeline()
    for (const { partition } of highs) pipeline.hget(keys.partition(topic, partition), 'offset')
    const replies = (await pipeline.exec()) ?? []
    // A pipeline resolves with each command's error: a Redis that could not answer (commands
    // flushed while reconnecting) is a failure, never "nothing applied yet" (a lag from offset 0).
    for (const [error] of replies) {
      if (error) {
        throw new MetricsStreamError('E_STREAM_REDIS', 'Reading the applied offsets failed', {
          topic,
          retriable: true,
          cause: error,
        })
      }
    }
    highs.forEach(({ partition, high, low }, index) => {
      const reply = replies[index]
      const stored = reply && reply[0] === null && typeof reply[1] === 'string' ? BigInt(reply[1]) : -1n
      const from = stored < 0n ? BigInt(low) : stored + 1n
      const lag = BigInt(high) - from
      result.push({ topic, partition, high, applied: String(stored), lag: lag > 0n ? Number(lag) : 0 })
    })
  }
  return result
}

/** Create a consumer maintaining `options.view` in Redis; call `start()` to run it. */
export function createMetricsConsumer<E>(options: MetricsConsumerOptions<E>): MetricsConsumer<E> {
  return new MetricsConsumer(options)
}
