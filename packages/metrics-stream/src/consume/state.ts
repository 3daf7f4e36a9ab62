/**
 * The consumer's shared state: what the mechanisms of `consume/` read and change, in one object
 * handed to each of them (claim, batch handling, apply, entity mode, advance, undecodable
 * batches, recovery), so that none of them imports another for its data. The facade
 * (`consumer.ts`) creates it and keeps the public methods.
 *
 * What it holds, and who writes it:
 *
 * - `owned`: per `topic:partition`, this member's claim (token, the offset and watermark Redis
 *   applied, the replay target): written by `claim.ts`, moved forward by `apply.ts` and
 *   `advance.ts`, forgotten when fenced or when the view's state changes (`recovery.ts`).
 * - `lost`: partitions whose claim another member took, per assignment: left alone until the next
 *   assignment.
 * - `reapplying`, `versionSeen`: partitions applied again after Redis was found behind this
 *   member (a failover to a lagging replica), and the highest view version seen (`behind.ts`).
 * - `keys`, `epoch`, `followsPointer`: the generation written and the state's epoch marker it
 *   works in (`recovery.ts`); a claim is granted within that epoch only.
 * - `counters`: everything `stats()` reports; `problems`/`pauseDelays`: source problems holding
 *   now (`undecodable.ts`); `reasons`: process-level health reasons.
 */
import type { EventEmitter } from 'node:events'
import type { Cluster, Redis } from 'ioredis'
import type { Aggregates, View } from '../aggregates/define.js'
import { MetricsStreamError } from '../errors.js'
import { HealthReasons } from '../health/reasons.js'
import type { ViewKeys } from '../keys.js'
import { ChunkSizer } from './chunk-sizer.js'
import { Gate } from './gate.js'
import type { MetricsConsumerOptions, ResolvedConsumerOptions } from './options.js'
import type { Source } from './source.js'

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
  /** Records the next chunk will hold (adapted to `scriptBudget`, at most `batchSize`). */
  batchSize: number
  /** @deprecated The same figure as `batchSize`, under its old name. */
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
  /**
   * Times this member found Redis holding less of a partition than it had applied (a failover to
   * a replica that had not received the last scripts) and went back to Redis's offset to apply
   * the records after it again (`redisBehind` events, `behind.ts`).
   */
  redisBehind: number
  /** State checks that could not reach Redis. */
  stateCheckErrors: number
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

/** This member's claim of one partition (see `claim.ts`). @internal */
export interface Owned {
  /** The group assignment the claim was made in (a new assignment claims again). */
  assignment: number
  /** The owner token the apply scripts check. */
  token: string
  /** The partition's claim count this claim got (a lower count in Redis: Redis lost the claim). */
  claims: number
  /** The last offset applied to Redis (-1: none). */
  offset: bigint
  /** The latest event time applied (lateness is measured from it). */
  watermark: number
  /** Where this claim last repositioned the partition (one seek per claim and offset). */
  soughtTo: bigint | undefined
  /** The partition's replay target while the state is rebuilding (undefined: none). */
  target: bigint | undefined
  /** Whether the replay target was reached. */
  done: boolean
}

/** A partition to seek back to its low watermark until it is claimed in the current epoch. */
export interface Rewind {
  topic: string
  partition: number
  low: string
}

/** The state every mechanism of the consumer shares (see the module note). @internal */
export class ConsumerState {
  readonly redis: Redis | Cluster
  readonly source: Source
  readonly view: View<unknown, any, Aggregates<any>>
  /** Sizes the next chunk to the script budget. */
  readonly sizer: ChunkSizer
  /** Bounds the apply scripts in flight; undefined when unbounded. */
  readonly gate: Gate | undefined
  readonly owned = new Map<string, Owned>()
  readonly lost = new Map<string, number>()
  /** The generation's keys (known after `start()`). */
  keys: ViewKeys | undefined
  stopping = false
  readonly counters: MetricsConsumerStats = {
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
    batchSize: 0,
    chunkSize: 0,
    seeks: 0,
    undecodableBatches: 0,
    sourceErrors: 0,
    rebuilds: 0,
    redisBehind: 0,
    stateCheckErrors: 0,
  }
  /** The epoch of the view's state this consumer works in (see `recovery.ts`). */
  epoch: string | undefined
  /** Whether readers follow this consumer's generation (the pointer names it, or it started on it). */
  followsPointer = false
  /** Process-level health reasons (Redis unreachable, a corrupt state). */
  readonly reasons = new HealthReasons()
  checkTimer: NodeJS.Timeout | undefined
  checking = false
  recovering: Promise<void> | undefined
  completing: Promise<void> | undefined
  /** Partitions to seek back to their low watermark until claimed in the current epoch. */
  readonly rewind = new Map<string, Rewind>()
  /**
   * Partitions being applied again after Redis was found behind this member, with the offset the
   * member had applied (`behind.ts`): health is degraded until they are back there.
   */
  readonly reapplying = new Map<string, bigint>()
  /** The highest view version an apply script answered in the current epoch (`behind.ts`). */
  versionSeen = 0
  /** Gaps already checked against the low watermark (`topic:partition:next`). */
  readonly gapsChecked = new Set<string>()
  /** Source problems holding now, by `topic:partition` ('' for the source as a whole). */
  readonly problems = new Map<string, SourceProblem>()
  /** Backoff of partitions paused at an undecodable batch, milliseconds. */
  readonly pauseDelays = new Map<string, number>()
  /** Why the last `start()` failed (reported by `health()` until a start succeeds). */
  startFailure: { error: MetricsStreamError; since: number } | undefined

  constructor(
    /** The options as given (topics of dead letters and late events, generation...). */
    readonly config: MetricsConsumerOptions<any>,
    readonly options: ResolvedConsumerOptions,
    /** The consumer itself: `applied`, `retry`, `fenced`, `sourceError`, `rebuilding`, `live`. */
    readonly events: EventEmitter,
  ) {
    this.redis = config.redis
    this.source = config.source
    this.view = config.view
    this.sizer = new ChunkSizer(options.batchSize, options.scriptBudget * 1_000)
    this.gate =
      options.maxScriptsInFlight === Number.POSITIVE_INFINITY
        ? undefined
        : new Gate(options.maxScriptsInFlight)
  }

  /** The generation's keys. @throws MetricsStreamError `E_STREAM_CLOSED` before `start()` */
  requireKeys(): ViewKeys {
    if (!this.keys) throw new MetricsStreamError('E_STREAM_CLOSED', 'The consumer has not started')
    return this.keys
  }
}
