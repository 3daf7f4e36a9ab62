/**
 * A Kafka broker that leads some of the topic's partitions is SIGKILLed while the outbox relay
 * delivers, on the harness's 3-node KRaft cluster (`node services/cli.mjs up --cluster`:
 * replication factor 3, min.insync.replicas 2), then restarted.
 *
 * Records of 40 keys are enqueued the whole time (MariaDB at DATABASE_URL) and relayed by
 * `kafkaSink` (idempotent producer) into a 6-partition RF-3 topic, in deliveries of up to 50
 * records, so a delivery spans the three brokers. The relay deletes its rows once the sink
 * resolves: with kafkajs 2.2.4 a request spanning brokers could resolve without the records of a
 * leader that died (tulios/kafkajs#1798), and they were gone; the sink now sends one request per
 * key, one at a time (with 8 at a time this test lost 1-2 records in 3 of 3 runs, before the
 * kill; when records are missing it prints a second reading of the log by a fresh group, to tell
 * the log from the checking consumer). Expected, once the broker is back and the outbox drained:
 *
 * - every committed record is in the log (none acknowledged and lost; a redelivered one carries
 *   the same `x-outbox-seq`, counted once),
 * - no dead letter.
 *
 * Every wait is bounded. Skipped, with a message, when KAFKA_CLUSTER_BROKERS is not set.
 */
import { clusterAddresses, killNode, restartNode, uniqueName } from '@ayala/testkit'
import { type Admin, type Consumer, Kafka, logLevel, type Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, kafkaEffect, kafkaSink, type Outbox, type OutboxRelay } from '../../src/index.ts'
import { type DriverUnderTest, mariadbDriver } from '../helpers/databases.ts'
import { waitFor } from '../helpers/recording-sink.ts'

const brokers = clusterAddresses('KAFKA_CLUSTER_BROKERS', 'outbox Kafka broker failover')

const PARTITIONS = 6
const KEYS = 40
const RECORDS = 2000
/** Records per transaction. */
const CHUNK = 20
const PAUSE_MS = 30
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))

describe.skipIf(brokers.length === 0)('a partition leader dies while the outbox relays to Kafka', () => {
  const topic = uniqueName('outbox-cluster')
  const kafka = new Kafka({
    clientId: uniqueName('outbox-cluster'),
    brokers,
    logLevel: logLevel.NOTHING,
    // Leader elections after a SIGKILL take the broker session timeout (6 s): ride over them.
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 2000 },
  })
  let db: DriverUnderTest
  let outbox: Outbox
  let relay: OutboxRelay
  let admin: Admin
  let producer: Producer
  let consumer: Consumer
  let killed: string | undefined
  const seen = new Map<number, number>()

  // A topic just created is unknown to some brokers until its metadata has spread ("This server
  // does not host this topic-partition"): no partitions yet, not a failure.
  /** Every one of the topic's partitions satisfies `check` (an unanswered metadata read: no). */
  const everyPartition = (
    partitions: Awaited<ReturnType<typeof metadata>>,
    check: (partition: Awaited<ReturnType<typeof metadata>>[number]) => boolean,
  ) => partitions.length === PARTITIONS && partitions.every(check)
  const metadata = async () =>
    (await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined))?.topics[0]?.partitions ?? []

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
      ],
    })
    await waitFor(
      async () => {
        const partitions = await metadata()
        return (
          partitions.length === PARTITIONS && partitions.every((p) => p.leader >= 0 && p.isr.length === 3)
        )
      },
      60_000,
      'every partition with a leader and 3 in-sync replicas',
    )
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    consumer = kafka.consumer({ groupId: uniqueName('outbox-cluster-check'), maxWaitTimeInMs: 100 })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        const n = (JSON.parse(message.value?.toString() ?? '{}') as { n: number }).n
        seen.set(n, (seen.get(n) ?? 0) + 1)
      },
    })
    db = mariadbDriver()
    outbox = createOutbox({ table: uniqueName('outbox').replace(/-/g, '_') })
    await outbox.ensureTable(db.pool)
    relay = outbox.relay({
      db: db.pool,
      sinks: { kafka: kafkaSink({ producer, timeout: '5s' }) },
      batchSize: 50,
      pollInterval: 20,
      retryDelay: 100,
      maxRetryDelay: 1000,
      deliveryTimeout: '60s',
      claimTimeout: '120s',
      degradedAfter: '1h',
    })
  })

  afterAll(async () => {
    if (killed) await restartNode(killed).catch((error: unknown) => console.warn('restart failed', error))
    await relay?.stop()
    await consumer?.disconnect()
    await producer?.disconnect()
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined)
    await admin?.disconnect()
    if (outbox) await db.exec(`DROP TABLE IF EXISTS ${outbox.tableName}`)
    await db?.close()
  })

  it('every committed record reaches the log through the election and the restart; no dead letter', async () => {
    relay.start()
    let written = 0
    const write = async (to: number) => {
      while (written < to) {
        const from = written + 1
        const until = Math.min(to, written + CHUNK)
        await db.transaction(async (tx) => {
          for (let n = from; n <= until; n++)
            await outbox.enqueue(tx, kafkaEffect({ topic, key: `invoice-${n % KEYS}`, value: { n } }))
        })
        written = until
        await sleep(PAUSE_MS)
      }
    }
    await write(RECORDS / 4)

    const victimId = (await metadata()).find((p) => p.partitionId === 0)?.leader as number
    const victim = `kafka-${victimId}`
    const flowing = write(RECORDS)
    await sleep(300)
    await killNode(victim)
    killed = victim
    await waitFor(
      async () => everyPartition(await metadata(), (p) => p.leader >= 0 && p.leader !== victimId),
      60_000,
      `new leaders for the partitions ${victim} led`,
    )
    await restartNode(victim)
    killed = undefined
    await waitFor(
      async () => everyPartition(await metadata(), (p) => p.isr.length === 3),
      120_000,
      'every replica back in sync',
    )
    await flowing
    await waitFor(async () => (await outbox.lag(db.pool)).kafka === undefined, 120_000, 'outbox drained')
    // A timeout here is not the verdict: the assertion below names the missing records.
    await waitFor(() => seen.size >= RECORDS, 60_000, 'every record consumed').catch((error: unknown) =>
      console.warn(String(error)),
    )

    const missing = Array.from({ length: RECORDS }, (_, i) => i + 1).filter((n) => !seen.has(n))
    if (missing.length > 0) {
      // Which side lost it: the log holding fewer records than were consumed-or-more says the
      // producer; more records in the log than consumed says the checking consumer.
      const offsets = await admin.fetchTopicOffsets(topic)
      const inLog = offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0)
      const consumed = [...seen.values()].reduce((sum, count) => sum + count, 0)
      // A second reading of the whole log, by a fresh group: what the log really holds.
      const again = new Map<number, number>()
      const reader = kafka.consumer({ groupId: uniqueName('outbox-cluster-reread'), maxWaitTimeInMs: 100 })
      await reader.connect()
      await reader.subscribe({ topics: [topic], fromBeginning: true })
      await reader.run({
        eachMessage: async ({ message }) => {
          const n = (JSON.parse(message.value?.toString() ?? '{}') as { n: number }).n
          again.set(n, (again.get(n) ?? 0) + 1)
        },
      })
      const reread = () => [...again.values()].reduce((sum, count) => sum + count, 0)
      await waitFor(() => reread() >= inLog, 30_000, 'the log read again').catch((error: unknown) =>
        console.warn(String(error)),
      )
      await reader.disconnect()
      const missingInLog = missing.filter((n) => !again.has(n))
      console.warn(
        `[outbox-kafka-failover] reread=${reread()} missing_in_log=${missingInLog.join(',')} doubled_in_log=${[
          ...again,
        ]
          .filter(([, count]) => count > 1)
          .map(([n]) => n)
          .join(',')}`,
      )
      console.warn(
        `[outbox-kafka-failover] missing=${missing.join(',')} in_log=${inLog} consumed=${consumed} distinct=${seen.size} doubled=${[
          ...seen,
        ]
          .filter(([, count]) => count > 1)
          .map(([n]) => n)
          .join(',')} highs=${offsets.map((o) => `${o.partition}:${o.high}`).join(',')}`,
      )
    }
    expect(missing).toEqual([])
    expect((await outbox.deadLetters(db.pool)).length).toBe(0)
    const doubled = [...seen.values()].filter((count) => count > 1).length
    console.info(
      `[outbox-kafka-failover] killed=${victim} records=${RECORDS} missing=${missing.length} redelivered=${doubled} retried=${relay.stats().kafka?.retried ?? 0}`,
    )
  })
})
