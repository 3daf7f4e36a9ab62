/**
 * The kafkajs 2.2.4 {@link Source}. The mechanism notes on its traps:
 *
 * - The `GROUP_JOIN` instrumentation event is emitted synchronously inside the join, before the
 *   first fetch of the new assignment, but kafkajs does not await listeners: so the listener only
 *   records the assignment (synchronously) and never seeks. Resuming from Redis's offset happens
 *   in the consumer's batch handler (filter by the stored offset, seek when Kafka is behind or
 *   ahead of it), which is immune to that race.
 * - `eachBatchAutoResolve: false`: records are resolved only after the Redis script returned, so
 *   Kafka's committed offset never runs ahead of Redis; an unresolved batch is fetched again.
 *   With `autoCommit` on, kafkajs commits the resolved offsets after every batch (and within a
 *   batch every `autoCommitInterval`): a crash replays at most the batch in hand.
 * - heartbeats are only sent between batches by kafkajs itself: the consumer heartbeats between
 *   chunks.
 * - Compression: kafkajs decodes gzip only; `installCodecs` (see `codecs.ts`) registers snappy,
 *   lz4 and zstd once per process, and the kafkajs consumer runs inside `sourceScope`, so a batch
 *   that cannot be decoded reaches `eachBatch` as stand-in records of its partition only, which
 *   `kafka-batch.ts` turns into {@link SourceBatch.undecodable}.
 * - Transactions (Flink, Kafka Streams, any `transactional.id` producer): kafkajs reads
 *   committed records only (`READ_COMMITTED`) and leaves control markers and aborted records
 *   out of `batch.messages` (with the Java consumer's rule for which records are aborted, see
 *   `transactions.ts`: kafkajs's own lets some through when producers interleave), so offsets
 *   have gaps. Each batch carries the offset kafkajs fetched from and the last offset it covers
 *   (`kafka-batch.ts`), so the consumer tells a filtered gap from Redis having lost data and moves
 *   Redis's offset over the markers. A fetch that held filtered records only never reaches
 *   `eachBatch` (kafkajs resolves it itself): the `START_BATCH_PROCESS` event with no message
 *   reports it, and the source hands it to the consumer as an empty batch, in order with the
 *   partition's other batches (one promise chain per partition).
 * - kafkajs gives up for good on a crash it deems not retriable (it disconnects and emits
 *   `CRASH` with `restart: false`): the source reports it (`SourceEvents.error`) and starts a new
 *   kafkajs consumer after a backoff; a crash kafkajs restarts itself is reported too. The next
 *   successful fetch reports `recovered`.
 * - Credentials: a refused SASL login is `E_STREAM_KAFKA_AUTH` (kafkajs's reason, never the
 *   password) wherever it happens (start, a crash, the admin and producer calls). A failed
 *   `start()` leaves nothing behind (the kafkajs consumer is disconnected), so it can be called
 *   again; the admin client and the producer are kept only once connected, so a failed connect
 *   is retried at the next call instead of leaving an unconnected client in place.
 * - Options are validated once, by `kafkaSource` itself (`kafka-source-options.ts`).
 */

import { kafkaAuthFailure, redactText } from '@ayala/internal'
import type { Admin, Consumer, EachBatchPayload, Producer } from 'kafkajs'
import kafkajs from 'kafkajs'
import { MetricsStreamError } from '../errors.js'
import { installCodecs, sourceScope } from './codecs.js'
import { toSourceBatch } from './kafka-batch.js'
import { type KafkaSourceOptions, resolveKafkaSourceOptions } from './kafka-source-options.js'
import type { OutgoingMessage, Source, SourceBatch, SourceBatchContext, SourceEvents } from './source.js'
import { installReadCommittedFix } from './transactions.js'

interface PartitionState {
  /** The partition's batches and filtered-only ranges, handed to the consumer one at a time. */
  chain: Promise<void>
  resume: NodeJS.Timeout | undefined
}

/**
 * Create a kafkajs-backed {@link Source} (consumes from the earliest offset on a new group).
 *
 * @throws MetricsStreamError `E_STREAM_INVALID_OPTION` for an unknown or invalid option
 */
export function kafkaSource(options: KafkaSourceOptions): Source {
  const resolved = resolveKafkaSourceOptions(options)
  const { kafka } = options
  if (!(kafka instanceof kafkajs.Kafka)) {
    process.emitWarning(
      'kafkaSource: the kafka client comes from another copy of kafkajs than @ayala/metrics-stream: the snappy, lz4 and zstd codecs are registered in this copy only (deduplicate kafkajs)',
      { code: 'AYALA_KAFKAJS_COPY' },
    )
  }
  installCodecs()
  installReadCommittedFix()
  let consumer: Consumer | undefined
  let producer: Producer | undefined
  let admin: Admin | undefined
  let assignment = 0
  let assigned = new Set<string>()
  let stopped = false
  let failing = false
  let restartDelay = resolved.retryDelayMs
  let restartTimer: NodeJS.Timeout | undefined
  const partitions = new Map<string, PartitionState>()

  const ensureProducer = async (): Promise<Producer> => {
    if (!producer) {
      const created = kafka.producer({ allowAutoTopicCreation: false, idempotent: false })
      await created.connect()
      producer = created
    }
    return producer
  }

  const ensureAdmin = async (): Promise<Admin> => {
    if (!admin) {
      const created = kafka.admin()
      try {
        await created.connect()
      } catch (error) {
        throw kafkaError(`Connecting the kafkajs admin client (group ${options.groupId}) failed`, error)
      }
      admin = created
    }
    return admin
  }

  const partitionState = (id: string): PartitionState => {
    let state = partitions.get(id)
    if (!state) {
      state = { chain: Promise.resolve(), resume: undefined }
      partitions.set(id, state)
    }
    return state
  }

  /** Run `task` after the partition's earlier batches, and let the next wait for it. */
  const serialized = (id: string, task: () => Promise<void>): Promise<void> => {
    const state = partitionState(id)
    const run = state.chain.then(task)
    // The chain only orders; each task's own caller sees (and reports) its failure.
    state.chain = run.then(
      () => undefined,
      () => undefined,
    )
    return run
  }

  async function launch(
    handle: (batch: SourceBatch, context: SourceBatchContext) => Promise<void>,
    events: SourceEvents | undefined,
  ): Promise<void> {
    const c = kafka.consumer({
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 500,
      ...options.consumer,
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      // Read committed (kafkajs's default, set so that nothing can turn it off): see transactions.ts.
      readUncommitted: false,
    })
    consumer = c
    c.on(c.events.GROUP_JOIN, (event) => {
      const next = new Set<string>()
      for (const [topic, list] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of list) next.add(`${topic}:${partition}`)
      }
      assigned = next
      assignment++
    })
    c.on(c.events.FETCH, () => {
      if (!failing) return
      failing = false
      restartDelay = resolved.retryDelayMs
      events?.recovered()
    })
    c.on(c.events.CRASH, (event) => {
      const { error, restart } = event.payload
      if (stopped || consumer !== c) return
      failing = true
      events?.error(
        kafkaError(
          `The kafkajs consumer of group ${options.groupId} crashed (${restart ? 'kafkajs restarts it' : 'restarting it'})`,
          error,
        ),
      )
      if (!restart) scheduleRestart(c, handle, events)
    })
    // A fetch that held filtered records only (transaction markers, aborted records) is
    // resolved by kafkajs without calling eachBatch: hand it to the consumer as an empty batch.
    c.on(c.events.START_BATCH_PROCESS, (event) => {
      const { topic, partition, batchSize, firstOffset, lastOffset } = event.payload
      if (batchSize !== 0 || stopped || consumer !== c) return
      const id = `${topic}:${partition}`
      const batch: SourceBatch = {
        topic,
        partition,
        messages: [],
        fetchedOffset: firstOffset ?? lastOffset,
        lastOffset,
      }
      const context: SourceBatchContext = {
        assignment,
        isActive: () => !stopped && consumer === c && assigned.has(id),
        // kafkajs resolved and commits this range itself.
        commit: async () => undefined,
        heartbeat: async () => undefined,
        seek: (offset) => c.seek({ topic, partition, offset }),
        pause: (ms) => pausePartition(c, topic, partition, ms),
      }
      serialized(id, () => handle(batch, context)).catch((error: unknown) => {
        failing = true
        events?.error(
          new MetricsStreamError('E_STREAM_KAFKA', `Handling filtered records of ${id} failed`, {
            topic,
            partition,
            retriable: true,
            cause: error,
          }),
        )
      })
    })
    await sourceScope.run(true, async () => {
      await c.connect()
      await c.subscribe({ topics: options.topics, fromBeginning: true })
      await c.run({
        eachBatchAutoResolve: false,
        autoCommit: true,
        autoCommitInterval: resolved.commitIntervalMs,
        partitionsConsumedConcurrently: resolved.partitionsConsumedConcurrently,
        eachBatch: (payload) =>
          serialized(`${payload.batch.topic}:${payload.batch.partition}`, () =>
            handle(toSourceBatch(payload.batch), batchContext(c, payload)),
          ),
      })
    })
  }

  function batchContext(c: Consumer, payload: EachBatchPayload): SourceBatchContext {
    const { topic, partition } = payload.batch
    return {
      assignment,
      isActive: () => payload.isRunning() && !payload.isStale(),
      commit: async (offset) => {
        payload.resolveOffset(offset)
        await payload.commitOffsetsIfNecessary()
      },
      heartbeat: () => payload.heartbeat(),
      seek: (offset) => c.seek({ topic, partition, offset }),
      pause: (ms) => pausePartition(c, topic, partition, ms),
    }
  }

  function pausePartition(c: Consumer, topic: string, partition: number, ms: number): void {
    const state = partitionState(`${topic}:${partition}`)
    c.pause([{ topic, partitions: [partition] }])
    clearTimeout(state.resume)
    state.resume = setTimeout(() => {
      state.resume = undefined
      if (consumer === c && !stopped) c.resume([{ topic, partitions: [partition] }])
    }, ms)
    state.resume.unref()
  }

  function scheduleRestart(
    crashed: Consumer,
    handle: (batch: SourceBatch, context: SourceBatchContext) => Promise<void>,
    events: SourceEvents | undefined,
  ): void {
    const delay = restartDelay
    restartDelay = Math.min(restartDelay * 2, resolved.maxRetryDelayMs)
    clearTimeout(restartTimer)
    restartTimer = setTimeout(() => {
      restartTimer = undefined
      if (stopped || consumer !== crashed) return
      crashed
        .disconnect()
        .catch((error: unknown) =>
          events?.error(kafkaError('Disconnecting the crashed consumer failed', error)),
        )
        .then(() => (stopped ? undefined : launch(handle, events)))
        .catch((error: unknown) => {
          events?.error(kafkaError('Restarting the kafkajs consumer failed', error))
          if (consumer !== undefined) scheduleRestart(consumer, handle, events)
        })
    }, delay)
    restartTimer.unref()
  }

  return {
    topics: Object.freeze([...options.topics]),
    async start(handle, events) {
      if (consumer) throw new MetricsStreamError('E_STREAM_INVALID_OPTION', 'kafkaSource already started')
      stopped = false
      try {
        await launch(handle, events)
      } catch (error) {
        // Leave nothing behind: a later start() begins afresh.
        const failed = consumer as Consumer | undefined
        consumer = undefined
        await failed
          ?.disconnect()
          .catch((e: unknown) =>
            events?.error(kafkaError('Disconnecting the consumer that failed to start failed', e)),
          )
        throw kafkaError(`Starting the kafkajs consumer of group ${options.groupId} failed`, error)
      }
    },
    isAssigned(topic, partition) {
      return assigned.has(`${topic}:${partition}`)
    },
    async send(topic: string, messages: OutgoingMessage[]) {
      if (messages.length === 0) return
      try {
        const p = await ensureProducer()
        await p.send({ topic, acks: -1, messages })
      } catch (error) {
        const auth = kafkaAuthFailure(error)
        throw new MetricsStreamError(
          auth ? 'E_STREAM_KAFKA_AUTH' : 'E_STREAM_KAFKA',
          `Producing to ${topic} failed${auth ? `: ${describe(error)}` : ''}`,
          {
            topic,
            // kafkajs marks what retrying cannot fix (e.g. acks other than -1 with idempotence).
            retriable: (error as { retriable?: unknown }).retriable !== false,
            cause: error,
          },
        )
      }
    },
    async highWatermarks(topic) {
      const offsets = await (await ensureAdmin()).fetchTopicOffsets(topic)
      return offsets.map(({ partition, high, low }) => ({ partition, high, low }))
    },
    assignedPartitions() {
      return [...assigned].map((id) => {
        const colon = id.lastIndexOf(':')
        return { topic: id.slice(0, colon), partition: Number(id.slice(colon + 1)) }
      })
    },
    seek(topic, partition, offset) {
      // kafkajs applies it at the partition's next fetch (a batch in hand becomes stale).
      if (consumer && !stopped && assigned.has(`${topic}:${partition}`))
        consumer.seek({ topic, partition, offset })
    },
    async cleanupPolicy(topic) {
      const { resources } = await (await ensureAdmin()).describeConfigs({
        includeSynonyms: false,
        resources: [
          { type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] },
        ],
      })
      return resources[0]?.configEntries.find((entry) => entry.configName === 'cleanup.policy')?.configValue
    },
    async stop() {
      stopped = true
      clearTimeout(restartTimer)
      for (const state of partitions.values()) clearTimeout(state.resume)
      const closing = [consumer?.disconnect(), producer?.disconnect(), admin?.disconnect()]
      consumer = undefined
      producer = undefined
      admin = undefined
      await Promise.all(closing)
    },
  }
}

/**
 * A kafkajs failure as this package reports it: `E_STREAM_KAFKA_AUTH` (not retriable) when the
 * broker refused the SASL login, `E_STREAM_KAFKA` (retriable) otherwise; the reason appended.
 */
function kafkaError(message: string, cause: unknown): MetricsStreamError {
  if (cause instanceof MetricsStreamError) return cause
  const auth = kafkaAuthFailure(cause)
  return new MetricsStreamError(
    auth ? 'E_STREAM_KAFKA_AUTH' : 'E_STREAM_KAFKA',
    `${message}${auth ? ': the broker refused the SASL credentials' : ''}: ${describe(cause)}`,
    { retriable: !auth, cause },
  )
}

/** `Name: message` of a thrown value, with URL credentials redacted. */
function describe(error: unknown): string {
  return redactText(error instanceof Error ? `${error.name}: ${error.message}` : String(error))
}
