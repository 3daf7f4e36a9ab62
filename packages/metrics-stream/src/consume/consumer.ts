/**
 * The aggregating consumer: Kafka record batches in, Redis figures out, with an exactly-once
 * effect. This file is the facade (start, stop, health, stats, lag); the mechanism lives in one
 * file each around the shared {@link ConsumerState} (`state.ts`), and its argument reads in this
 * order:
 *
 * 1. `claim.ts`: per partition, the member first claims the partition in Redis (a fresh owner
 *    token) and learns the last offset applied to Redis; every script checks that token, so a
 *    member that lost the partition is fenced.
 * 2. `batch.ts`: records at or below the stored offset are skipped; Kafka ahead of or behind
 *    Redis is repositioned to it (Redis, not Kafka's committed offset, is the truth); the rest is
 *    cut into chunks of at most `batchSize` records, sized to `scriptBudget` (`chunk-sizer.ts`).
 * 3. `apply.ts`: a chunk is decoded, validated and pre-aggregated in Node, then ONE script checks
 *    the owner token and the stored offset and applies the increments, the new offset, the
 *    counters, the version bump and the change notice atomically. Only then is the chunk resolved
 *    in Kafka. `entity-chunk.ts`: the same for an entity-mode view, with a compare-and-set on the
 *    stored versions.
 * 4. `advance.ts`: offsets that hold no record (transaction markers, aborted records) move the
 *    stored offset without touching the figures. `undecodable.ts`: a batch the source cannot
 *    decode is never a silent stall (paused with backoff, or dead-lettered whole).
 * 5. `recovery.ts`: Redis losing the view's state is noticed (an epoch marker) and healed by a
 *    replay from the topic; a topic that cannot give the figures back marks the view incomplete.
 *    `behind.ts`: Redis going back to an older copy of the same state (a failover to a replica
 *    that missed the last scripts) is refused by the scripts and noticed by the state check: the
 *    member seeks back to the offset Redis holds and applies the records after it again.
 * 6. `retry.ts`: every Redis call is bounded; failures are retried with backoff while the member
 *    owns the batch; an error reply is not retried (it would apply half a script twice).
 *
 * Kafka's committed offset only ever trails Redis, so a crash at any point replays records that
 * Redis then refuses: nothing is lost, nothing is counted twice.
 */

import { EventEmitter } from 'node:events'
import { scrubRedisErrors } from '@ayala/internal'
import { MetricsStreamError } from '../errors.js'
import { type HealthReason, type HealthReport, viewReasons, worstState } from '../health/reasons.js'
import { readViewState, type ViewState } from '../health/view-state.js'
import { viewKeys } from '../keys.js'
import { handleBatch } from './batch.js'
import { computeLag, type PartitionLag } from './lag.js'
import { type MetricsConsumerOptions, resolveConsumerOptions } from './options.js'
import { checkState, initState } from './recovery.js'
import { isRetriable, redisError, sleep, withTimeout } from './retry.js'
import { ConsumerState, type MetricsConsumerStats, type SourceProblem } from './state.js'
import { reportSourceError, sourceErrors } from './undecodable.js'

/** A consumer's health: the worst of its reasons, the reasons, and the view's state in Redis. */
export interface ConsumerHealth extends HealthReport {
  /** The state of the generation this consumer writes (undefined when Redis did not answer). */
  readonly view: ViewState | undefined
}

/**
 * A consumer maintaining one view's figures in Redis from a {@link Source}. Events: `applied`
 * ({@link AppliedEvent}), `retry` (the error being retried), `fenced` ({ topic, partition }),
 * `sourceError` (a {@link MetricsStreamError}: `E_STREAM_UNDECODABLE` for a batch the source
 * cannot decode, `E_STREAM_KAFKA` when the Kafka client crashed; not `error`, which would kill a
 * process that does not listen while the consumer goes on with the other partitions),
 * `rebuilding` ({@link RebuildingEvent}), `live` ({ generation, epoch }) and `redisBehind`
 * ({@link RedisBehindEvent}: Redis held less of a partition than this member applied, and it
 * went back to apply the rest again).
 */
export class MetricsConsumer<E = unknown> extends EventEmitter {
  private readonly state: ConsumerState

  constructor(config: MetricsConsumerOptions<E>) {
    super()
    this.state = new ConsumerState(config, resolveConsumerOptions(config), this)
    // Validates namespace and view name now, not at the first batch.
    viewKeys(config.namespace, config.view.name, config.generation ?? 1)
    // Refused credentials reject commands with ioredis' AUTH error, password inside: scrub it.
    scrubRedisErrors(config.redis)
  }

  /** The generation this consumer writes (known after `start()`). */
  get generation(): number | undefined {
    return this.state.keys?.generation
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
    const state = this.state
    try {
      await this.startOnce()
      state.startFailure = undefined
    } catch (error) {
      const reported =
        error instanceof MetricsStreamError
          ? error
          : redisError(state.redis, 'Starting the consumer failed on Redis', error)
      state.startFailure = { error: reported, since: state.startFailure?.since ?? Date.now() }
      throw reported
    }
  }

  private async startOnce(): Promise<void> {
    const state = this.state
    const { redis, namespace, view } = state.config
    let generation = state.config.generation
    if (generation === undefined) {
      const pointer = await redis.get(viewKeys(namespace, view.name, 1).pointer)
      generation = pointer ? Number(pointer) : 1
      state.followsPointer = true
    }
    state.keys = viewKeys(namespace, view.name, generation)
    // Kafka may refuse the watermarks for a moment (a topic just created: "not the leader").
    for (let delay = state.options.retryDelay, attempt = 1; ; attempt++) {
      try {
        await initState(state, 'created')
        break
      } catch (error) {
        if (!isRetriable(error) || attempt >= 10) throw error
        state.counters.retries++
        if (this.listenerCount('retry') > 0) this.emit('retry', error)
        await sleep(delay)
        delay = Math.min(delay * 2, state.options.maxRetryDelay)
      }
    }
    await state.source.start((batch, context) => handleBatch(state, batch, context), {
      error: (error) => reportSourceError(state, '', error),
      recovered: () => {
        state.problems.delete('')
      },
    })
    state.checkTimer = setInterval(() => void checkState(state), state.options.stateCheckInterval)
    state.checkTimer.unref()
  }

  /** Stop applying and leave the group. In-flight chunks finish or are abandoned unresolved. */
  async stop(): Promise<void> {
    this.state.stopping = true
    clearInterval(this.state.checkTimer)
    await this.state.source.stop()
  }

  /**
   * Health: `down` when the view's state is missing, corrupt or incomplete (the topic lost events
   * it needs), or the source cannot decode a batch or fetch; `degraded` while the view is rebuilt
   * from the topic or the state check cannot reach Redis; `up` otherwise. Reads the state of the
   * generation this consumer writes from Redis (one round trip, two while rebuilding).
   */
  async health(): Promise<ConsumerHealth> {
    const state = this.state
    const reasons: HealthReason[] = state.reasons.list()
    let view: ViewState | undefined
    const keys = state.keys
    const failure = state.startFailure
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
        const { namespace, redis } = state.config
        const name = state.view.name
        view = await withTimeout(
          readViewState(redis, (g) => viewKeys(namespace, name, g), keys.generation),
          state.options.scriptTimeout,
        )
        reasons.push(...viewReasons(view))
      } catch (error) {
        const failed = redisError(state.redis, "Reading the view's state from Redis failed", error)
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
   * Source problems holding now: a partition stopped at a batch it cannot decode (until it
   * decodes, or is dead-lettered, or the partition is revoked), the Kafka client down (until it
   * fetches again). Empty when the source is healthy; health is down while it is not.
   */
  sourceErrors(): SourceProblem[] {
    return sourceErrors(this.state)
  }

  /** Counters since start (a copy). */
  stats(): MetricsConsumerStats {
    const size = this.state.sizer.size
    return { ...this.state.counters, batchSize: size, chunkSize: size }
  }

  /** Lag of Redis's applied offsets behind Kafka's high watermarks, per partition. */
  async lag(): Promise<PartitionLag[]> {
    const state = this.state
    return computeLag(state.redis, state.requireKeys(), state.source)
  }
}

/** Create a consumer maintaining `options.view` in Redis; call `start()` to run it. */
export function createMetricsConsumer<E>(options: MetricsConsumerOptions<E>): MetricsConsumer<E> {
  return new MetricsConsumer(options)
}
