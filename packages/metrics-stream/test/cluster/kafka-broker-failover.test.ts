/**
 * A Kafka broker that leads some of the topic's partitions is SIGKILLed mid-stream, on the
 * harness's 3-node KRaft cluster (`node services/cli.mjs up --cluster`: replication factor 3,
 * min.insync.replicas 2), then restarted.
 *
 * Events are produced the whole time, through `createEventProducer` in batches of many keys
 * (idempotent producer, acks -1; the SDK sends each key alone, see the note at `send`) into a
 * 6-partition RF-3 topic; a metrics consumer aggregates them into Redis. The victim is the leader of partition 0
 * as the admin client's metadata names it, so it leads at least one partition (and may host the
 * group coordinator or the active controller too). The stream goes on through the leader
 * elections and the restart; at the end:
 *
 * - the log holds each acknowledged event once (per partition, the high watermark is the number of
 *   events sent there: nothing acknowledged is missing, nothing is doubled),
 * - the apply scripts counted each partition's records exactly once (lost = 0, doubled = 0),
 * - the dashboard's figures equal the ground truth computed from the produced events,
 * - every replica is back in sync (ISR = 3 for each partition).
 *
 * Every wait is bounded. One line of figures is printed (docs/operations.md's failover table).
 * Skipped, with a message, when KAFKA_CLUSTER_BROKERS is not set.
 */

import { clusterAddresses, killNode, restartNode, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { type Admin, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createDashboard,
  createEventProducer,
  createMetricsConsumer,
  kafkaSource,
  type MetricsConsumer,
  viewKeys,
} from '../../src/index.js'
import { FAST_GROUP, urls, waitFor } from '../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  invoiceView,
  READ_RANGE,
} from '../helpers/invoices.js'

const brokers = clusterAddresses('KAFKA_CLUSTER_BROKERS', 'Kafka broker failover')

const PARTITIONS = 6
/** Invoices generated; each has several events (creation, changes, payment...). */
const INVOICES = 1500
const CHUNK = 25
const PAUSE_MS = 60
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))

describe.skipIf(brokers.length === 0)('a partition leader of a 3-node Kafka cluster dies mid-stream', () => {
  const namespace = uniqueName('ms-cluster')
  const topic = uniqueName('ms-cluster-inv')
  const group = `${namespace}-g`
  const kafka = new Kafka({
    clientId: uniqueName('ms-cluster'),
    brokers,
    logLevel: logLevel.NOTHING,
    // Leader elections after a SIGKILL take the broker session timeout (6 s on the harness's
    // cluster): retry long enough to ride over them.
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 2000 },
  })
  const redis = new Redis(urls.redis, { maxRetriesPerRequest: null })
  let admin: Admin
  let producer: Producer
  let consumer: MetricsConsumer<InvoiceEvent> | undefined
  let killed: string | undefined

  // A topic just created is unknown to some brokers until its metadata has spread ("This server
  // does not host this topic-partition"): no partitions yet, not a failure.
  /** Every one of the topic's partitions satisfies `check` (an unanswered metadata read: no). */
  const everyPartition = (
    partitions: Awaited<ReturnType<typeof metadata>>,
    check: (partition: Awaited<ReturnType<typeof metadata>>[number]) => boolean,
  ) => partitions.length === PARTITIONS && partitions.every(check)
  const metadata = async () =>
    (await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined))?.topics[0]?.partitions ?? []
  const highs = async () => {
    const offsets = await admin.fetchTopicOffsets(topic)
    return Array.from({ length: PARTITIONS }, (_, p) => Number(offsets.find((o) => o.partition === p)?.high))
  }
  const keys = viewKeys(namespace, invoiceView.name, 1)
  const partitionField = async (field: string) => {
    const out: number[] = []
    for (let p = 0; p < PARTITIONS; p++)
      out.push(Number((await redis.hget(keys.partition(topic, p), field)) ?? -1))
    return out
  }
  const caughtUp = async () => {
    const [stored, high] = [await partitionField('offset'), await highs()]
    return stored.every((offset, p) => offset + 1 === high[p])
  }

  beforeAll(async () => {
    admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({
      waitForLeaders: false,
      topics: [
        {
          topic,
          numPartitions: PARTITIONS,
          replicationFactor: 3,
          configEntries: [{ name: 'min.insync.replicas', value: '2' }],
        },
        { topic: `${topic}.dlq`, numPartitions: 1, replicationFactor: 3 },
        { topic: `${topic}.late`, numPartitions: 1, replicationFactor: 3 },
      ],
    })
    await waitFor('every partition to have a leader and 3 in-sync replicas', async () => {
      const partitions = await metadata()
      return partitions.length === PARTITIONS && partitions.every((p) => p.leader >= 0 && p.isr.length === 3)
    })
    // Idempotent (acks -1): a produce request retried across a leader change never writes twice.
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
  })

  afterAll(async () => {
    // Leave the cluster whole for the next file, whatever happened.
    if (killed) await restartNode(killed).catch((error: unknown) => console.warn('restart failed', error))
    await consumer?.stop()
    await producer?.disconnect()
    await admin?.deleteTopics({ topics: [topic, `${topic}.dlq`, `${topic}.late`] }).catch(() => undefined)
    await admin?.disconnect()
    let cursor = '0'
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${namespace}*`, 'COUNT', 500)
      cursor = next
      if (found.length > 0) await redis.del(...found)
    } while (cursor !== '0')
    redis.disconnect()
  })

  it('the consumer goes on through the election and the restart; figures equal the ground truth, 0 lost, 0 doubled', async () => {
    const events = generateEvents(INVOICES, 1601)
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
      batchSize: 100,
      stateCheckInterval: '250ms',
      scriptTimeout: '2s',
      retryDelay: '50ms',
      maxRetryDelay: '1s',
    })
    await consumer.start()
    // Each chunk holds many keys, so its partitions span the three brokers. kafkajs 2.2.4 drops
    // the records of a send whose partitions span brokers when one leader dies and its
    // partitions move to a broker that already answered that send (the send resolves, the
    // records were never written; tulios/kafkajs#1798): this test, sending such chunks in one
    // `producer.send()`, found 9, 9 and 7 acknowledged records missing in 3 of 5 runs.
    // `createEventProducer` sends each key alone (one partition per request), so the log must
    // equal what was acknowledged; the partitioner's choice, made here, gives the per-partition
    // figures to compare.
    const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [],
      isr: [],
    }))
    const partitioner = Partitioners.DefaultPartitioner()
    const partitionOf = (e: InvoiceEvent) =>
      partitioner({ topic, partitionMetadata, message: { key: e.id, value: JSON.stringify(e) } })
    const eventProducer = createEventProducer<InvoiceEvent>({ producer, topic, key: (e) => e.id })
    const send = (chunk: readonly InvoiceEvent[]) => eventProducer.send(chunk)

    // The stream: small sends, paced, counted. A failed send would make the truth unknowable
    // (it may or may not be in the log), so it fails the test instead of being retried.
    const sent = { requests: 0, events: 0, failed: 0, slowestMs: 0 }
    const failures: unknown[] = []
    const stream = async (slice: readonly InvoiceEvent[]) => {
      for (let i = 0; i < slice.length; i += CHUNK) {
        const t = Date.now()
        try {
          await send(slice.slice(i, i + CHUNK))
          sent.requests++
          sent.events += Math.min(CHUNK, slice.length - i)
        } catch (error) {
          sent.failed++
          failures.push(error)
          return
        }
        sent.slowestMs = Math.max(sent.slowestMs, Date.now() - t)
        await sleep(PAUSE_MS)
      }
    }

    // 1. A third of the stream before the failure, applied.
    const first = events.slice(0, Math.floor(events.length / 3))
    await stream(first)
    await waitFor('the first third applied', caughtUp)

    // 2. The leader of partition 0 is killed while the rest flows in.
    const before = await metadata()
    const victimId = before.find((p) => p.partitionId === 0)?.leader as number
    const led = before.filter((p) => p.leader === victimId).map((p) => p.partitionId)
    expect(led.length).toBeGreaterThan(0)
    const victim = `kafka-${victimId}`
    const { controller } = await admin.describeCluster()
    const flowing = stream(events.slice(first.length))
    await sleep(300)
    const killedAt = Date.now()
    await killNode(victim)
    killed = victim
    await waitFor(
      `new leaders for the partitions ${victim} led`,
      async () => everyPartition(await metadata(), (p) => p.leader >= 0 && p.leader !== victimId),
      60_000,
    )
    const electedAt = Date.now()

    // 3. The broker comes back while the stream still runs, and catches up its replicas.
    const restartedAt = Date.now()
    await restartNode(victim)
    killed = undefined
    const backAt = Date.now()
    await waitFor(
      'every replica back in sync (ISR 3 for each partition)',
      async () => everyPartition(await metadata(), (p) => p.isr.length === 3),
      120_000,
    )
    const inSyncAt = Date.now()
    await flowing
    expect(
      failures.map((error) => `${String(error)}; cause: ${String((error as { cause?: unknown }).cause)}`),
    ).toEqual([])
    expect(sent.events).toBe(events.length)
    await waitFor('the consumer to apply everything', caughtUp, 120_000)
    const caughtUpAt = Date.now()

    // The log holds each acknowledged event once (an idempotent producer, acks -1), per
    // partition as the partitioner placed them: any discrepancy later is the consumer's.
    const high = await highs()
    const expected = Array.from({ length: PARTITIONS }, () => 0)
    for (const e of events) expected[partitionOf(e)] = (expected[partitionOf(e)] as number) + 1
    if (!high.every((h, p) => h === expected[p]))
      console.warn(
        `[kafka-failover] log vs sent per partition: high=${high.join('/')} sent=${expected.join('/')} victim=${victim} controller=${controller} led_by_victim=${led.join('/')} leaders_now=${(await metadata()).map((p) => `${p.partitionId}:${p.leader}`).join(',')}`,
      )
    expect(high).toEqual(expected)
    // Counted inside the apply scripts, per partition: each record applied exactly once.
    const applied = await partitionField('applied')
    const lost = high.reduce((sum, h, p) => sum + Math.max(0, h - (applied[p] as number)), 0)
    const doubled = high.reduce((sum, h, p) => sum + Math.max(0, (applied[p] as number) - h), 0)
    expect({ lost, doubled }).toEqual({ lost: 0, doubled: 0 })
    expect(applied).toEqual(high)
    const dashboard = createDashboard({ redis, namespace, view: invoiceView, cache: false })
    expect(asTruth((await dashboard.read(READ_RANGE)).figures)).toEqual(groundTruth(events))
    await dashboard.close()
    await waitFor(
      'the consumer to be healthy',
      async () => (await consumer?.health())?.state === 'up',
      60_000,
    )

    const stats = consumer.stats()
    console.info(
      `[kafka-failover] killed=${victim} controller=${controller} led_partitions=${led.join('/')} events=${events.length} produce_requests=${sent.requests} produce_failed=${sent.failed} slowest_send_ms=${sent.slowestMs} leaders_moved_after_ms=${electedAt - killedAt} restart_ms=${backAt - restartedAt} restart_to_isr3_ms=${inSyncAt - restartedAt} caught_up_after_kill_ms=${caughtUpAt - killedAt} consumer_retries=${stats.retries} lost=${lost} doubled=${doubled}`,
    )
  })
})
