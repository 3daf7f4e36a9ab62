/**
 * Exactly-once across a real Redis Sentinel failover to a replica known to lag (real Kafka, a
 * private Sentinel topology: a primary, a replica, three Sentinels).
 *
 * Redis replicates asynchronously: the primary acknowledges apply scripts before its replica has
 * them. Here the replica's link is blackholed (testkit's TCP proxy holds the replication stream)
 * while the consumer applies a second stretch of events, Kafka commits past it, then the primary
 * is SIGKILLed and Sentinel promotes the replica, which holds the first stretch only. The consumer
 * must notice Redis behind what it applied, go back to the offset Redis holds and apply the
 * second stretch again: the figures equal the ground truth computed from the produced events,
 * the apply scripts counted every event once (none lost, none doubled), and the `redisBehind`
 * counter shows the seek-back happened (code that applied on top of the hole would lose the
 * second stretch, and fail here).
 *
 * With AYALA_FAILOVER_REPORT=1 the run prints one line of figures (docs/operations.md).
 */

import { isDeepStrictEqual } from 'node:util'
import { type RedisSentinel, startRedisSentinel, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import type { Admin, Kafka, Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createDashboard,
  createEventProducer,
  createMetricsConsumer,
  kafkaSource,
  type MetricsConsumer,
  type RedisBehindEvent,
  viewKeys,
} from '../../../src/index.js'
import { FAST_GROUP, kafkaClient, waitFor } from '../../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  invoiceView,
  READ_RANGE,
} from '../../helpers/invoices.js'

const PARTITIONS = 2
const report = process.env.AYALA_FAILOVER_REPORT === '1'
const t0 = Date.now()
const phase = (what: string) => {
  if (report) console.info(`[failover] +${Date.now() - t0} ms ${what}`)
}

describe('exactly-once across a Redis Sentinel failover (real Kafka, real Sentinel)', () => {
  const namespace = uniqueName('ms')
  const topic = uniqueName('ms-failover')
  const group = `${namespace}-g`
  let topology: RedisSentinel
  let redis: Redis
  let kafka: Kafka
  let admin: Admin
  let producer: Producer
  let consumer: MetricsConsumer<InvoiceEvent> | undefined

  beforeAll(async () => {
    topology = await startRedisSentinel()
    redis = new Redis({
      sentinels: [...topology.sentinels],
      name: topology.masterName,
      maxRetriesPerRequest: null,
    })
    // The primary is killed on purpose: connection errors are expected, the consumer retries.
    redis.on('error', () => undefined)
    kafka = kafkaClient()
    admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({
      waitForLeaders: false,
      topics: [
        { topic, numPartitions: PARTITIONS },
        { topic: `${topic}.dlq`, numPartitions: 1 },
        { topic: `${topic}.late`, numPartitions: 1 },
      ],
    })
    await waitFor('the new topics to have leaders', async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] })
      return metadata.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
    })
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
  })

  afterAll(async () => {
    await consumer?.stop()
    await producer?.disconnect()
    await admin?.deleteTopics({ topics: [topic, `${topic}.dlq`, `${topic}.late`] }).catch(() => undefined)
    await admin?.disconnect()
    redis?.disconnect()
    await topology?.dispose()
  })

  const produce = async (events: readonly InvoiceEvent[]) => {
    const send = createEventProducer<InvoiceEvent>({ producer, topic, key: (e) => e.id })
    for (let i = 0; i < events.length; i += 500) await send.send(events.slice(i, i + 500))
  }
  const keys = viewKeys(namespace, invoiceView.name, 1)
  /** Offsets applied per partition as `client` (any node, or the Sentinel client) holds them. */
  const storedOffsets = async (client: Redis) => {
    const out: number[] = []
    for (let p = 0; p < PARTITIONS; p++) {
      out.push(Number((await client.hget(keys.partition(topic, p), 'offset')) ?? -1))
    }
    return out
  }
  const highs = async () => {
    const offsets = await admin.fetchTopicOffsets(topic)
    return Array.from({ length: PARTITIONS }, (_, p) => Number(offsets.find((o) => o.partition === p)?.high))
  }
  const caughtUp = async () => {
    const [stored, high] = [await storedOffsets(redis), await highs()]
    return stored.every((offset, p) => offset + 1 === high[p])
  }
  const onNode = async <T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T> => {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await client.connect()
      return await fn(client)
    } finally {
      client.disconnect()
    }
  }

  it('the primary dies while its replica lags: the consumer goes back to the promoted copy and re-applies', async () => {
    const events = generateEvents(700, 211)
    const first = events.slice(0, Math.floor(events.length * 0.4))
    const second = events.slice(first.length, Math.floor(events.length * 0.7))
    const third = events.slice(first.length + second.length)

    consumer = createMetricsConsumer<InvoiceEvent>({
      redis,
      namespace,
      view: invoiceView,
      source: kafkaSource({
        kafka,
        groupId: group,
        topics: [topic],
        commitInterval: '200ms',
        consumer: FAST_GROUP,
      }),
      batchSize: 50,
      stateCheckInterval: '250ms',
      scriptTimeout: '1s',
      retryDelay: '50ms',
      maxRetryDelay: '500ms',
    })
    const behind: RedisBehindEvent[] = []
    consumer.on('redisBehind', (event: RedisBehindEvent) => behind.push(event))
    await consumer.start()
    const dashboard = createDashboard({ redis, namespace, view: invoiceView })

    // 1. The first stretch, applied and replicated.
    await produce(first)
    await waitFor('the first stretch applied', caughtUp)
    expect(await redis.wait(1, 10_000)).toBe(1)
    expect(asTruth((await dashboard.read(READ_RANGE)).figures)).toEqual(groundTruth(first))

    phase('first stretch applied and replicated')
    // 2. The replica's link blackholed; the second stretch applied on the primary only, and
    //    committed in Kafka.
    const link = await topology.replicaLink()
    link.blackhole()
    await produce(second)
    await waitFor('the second stretch applied on the primary', caughtUp)
    const onPrimary = await storedOffsets(redis)
    await waitFor('Kafka to commit past the second stretch', async () => {
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] })
      return onPrimary.every(
        (offset, p) => Number(committed?.partitions.find((c) => c.partition === p)?.offset) === offset + 1,
      )
    })
    phase('second stretch applied on the primary, committed in Kafka')
    const [primary, replica] = topology.nodes
    const onReplica = await onNode(replica.port, storedOffsets)
    // The hole is certain: the replica misses apply scripts the primary acknowledged.
    expect(onReplica.reduce((a, b) => a + b)).toBeLessThan(onPrimary.reduce((a, b) => a + b))

    // 3. The primary is killed while the third stretch flows in; Sentinel promotes the lagging
    //    replica.
    const flowing = (async () => {
      for (let i = 0; i < third.length; i += 50) {
        await produce(third.slice(i, i + 50))
        await new Promise((done) => setTimeout(done, 50))
      }
    })()
    const killedAt = Date.now()
    const old = await topology.killPrimary()
    expect(old).toEqual(primary)
    const promoted = await topology.waitForPromotion(old)
    const promotedAt = Date.now()
    expect(promoted).toEqual(replica)

    phase('replica promoted')
    // 4. The stream goes on; the consumer must re-apply the second stretch from Kafka.
    await flowing
    await waitFor('the consumer to catch up on the promoted replica', caughtUp, 120_000)
    const caughtUpAt = Date.now()
    const lost =
      events.length -
      Number((await redis.hget(keys.partition(topic, 0), 'applied')) ?? 0) -
      Number((await redis.hget(keys.partition(topic, 1), 'applied')) ?? 0)

    phase('caught up on the promoted replica')
    // The log holds each event once (an idempotent producer): any discrepancy is the consumer's.
    expect((await highs()).reduce((a, b) => a + b)).toBe(events.length)
    // Counted inside the apply scripts: every event applied exactly once (0 lost, 0 doubled).
    expect(lost).toBe(0)
    const cold = createDashboard({ redis, namespace, view: invoiceView, cache: false })
    expect(asTruth((await cold.read(READ_RANGE)).figures)).toEqual(groundTruth(events))
    await cold.close()
    // The seek-back happened, for a partition the replica held less of.
    expect(consumer.stats().redisBehind).toBeGreaterThan(0)
    const lagging = onReplica
      .map((offset, p) => (offset < (onPrimary[p] as number) ? p : -1))
      .filter((p) => p >= 0)
    for (const event of behind) expect(lagging).toContain(event.partition)
    // Each lagging partition went back to exactly what the promoted replica held.
    for (const p of lagging) expect(behind.find((e) => e.partition === p)?.stored).toBe(String(onReplica[p]))
    // The dashboard that read before the failover (with its in-process copy) serves the truth.
    const truth = groundTruth(events)
    await waitFor('the dashboard to read the truth', async () =>
      isDeepStrictEqual(asTruth((await dashboard.read(READ_RANGE)).figures), truth),
    )
    await waitFor('the consumer to be healthy again', async () => (await consumer?.health())?.state === 'up')
    await dashboard.close()

    if (report) {
      const stats = consumer.stats()
      console.info(
        `[failover] events=${events.length} lagged_records=${onPrimary.reduce((a, b) => a + b) - onReplica.reduce((a, b) => a + b)} promoted_after_ms=${promotedAt - killedAt} caught_up_after_ms=${caughtUpAt - killedAt} redis_behind=${stats.redisBehind} retries=${stats.retries} lost=${lost} doubled=${Math.max(0, -lost)}`,
      )
    }
  }, 240_000)
})
