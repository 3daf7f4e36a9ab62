/**
 * Changelog views on real Kafka and Redis: an upsert changelog topic as a Flink SQL
 * `upsert-kafka` sink writes it (JSON key of the GROUP BY columns, JSON value with the row's
 * figures, a tombstone for a deleted row), partly written in transactions with an aborted one in
 * between, on a compacted topic. Figures are compared with the last committed value of every
 * key; then the consumer restarts on a new group (Kafka replays everything, Redis's offsets
 * skip it), a rebuild replays the topic into a new generation (no offset guard: absolute values),
 * and a view combining embedded aggregates with changelog figures reads both.
 */
import { uniqueName } from '@ayala/testkit'
import type { Producer } from 'kafkajs'
import { afterEach, describe, expect, it } from 'vitest'
import {
  changelog,
  createDashboard,
  createMetricsConsumer,
  currentGeneration,
  defineChangelogView,
  defineView,
  kafkaSource,
  type MetricsConsumer,
  startRebuild,
} from '../../../src/index.js'
import { FAST_GROUP, World, waitFor } from '../../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  invoiceAggregates,
  invoiceView,
  READ_RANGE,
  random,
} from '../../helpers/invoices.js'

const COMPACTED = [
  { name: 'cleanup.policy', value: 'compact' },
  { name: 'min.cleanable.dirty.ratio', value: '0.01' },
  { name: 'segment.ms', value: '1000' },
]

/** What a Flink `GROUP BY status` into `upsert-kafka` (key.format json) writes for one row. */
interface Row {
  status: string
  invoices: number
  amount_cents: number
}
const record = (status: string, row: Row | null) => ({
  key: JSON.stringify({ status }),
  value: row === null ? null : JSON.stringify(row),
})

/** Updates of `groups` rows, some deleted on the way; returns the records and the final rows. */
function updates(count: number, seed: number, groups: number) {
  const next = random(seed)
  const rows = new Map<string, Row>()
  const records: Array<{ key: string; value: string | null }> = []
  for (let i = 0; i < count; i++) {
    const status = `s${Math.floor(next() * groups)}`
    if (rows.has(status) && next() < 0.15) {
      rows.delete(status)
      records.push(record(status, null))
      continue
    }
    const row = {
      status,
      invoices: Math.floor(next() * 1_000),
      amount_cents: Math.floor(next() * 10_000_000),
    }
    rows.set(status, row)
    records.push(record(status, row))
  }
  return { records, rows }
}

function expected(rows: ReadonlyMap<string, Row>) {
  const byStatus: Record<string, number> = {}
  const amountByStatus: Record<string, number> = {}
  for (const [status, row] of rows) {
    byStatus[status] = row.invoices
    amountByStatus[status] = row.amount_cents
  }
  return { byStatus, amountByStatus }
}

function flinkView(topic: string) {
  return defineChangelogView({
    name: 'flink_invoices',
    topic,
    key: ['status'],
    figures: { byStatus: { column: 'invoices' }, amountByStatus: { column: 'amount_cents' } },
  })
}

async function caughtUp(consumer: MetricsConsumer<unknown>, partitions: number) {
  await waitFor('the changelog consumer to catch up', async () => {
    const lag = await consumer.lag()
    return lag.length === partitions && lag.every((p) => p.lag === 0)
  })
}

describe('changelog views', () => {
  const worlds: World[] = []
  const producers: Producer[] = []
  afterEach(async () => {
    await Promise.allSettled(producers.splice(0).map((p) => p.disconnect()))
    await Promise.allSettled(worlds.splice(0).map((w) => w.dispose()))
  })

  it('upserts, tombstones and an aborted transaction: the last committed row of every key, 0 stale; the same after a replay', async () => {
    const world = await new World(3, undefined, COMPACTED).init()
    worlds.push(world)
    const view = flinkView(world.topic)
    const first = updates(600, 71, 25)
    const tx = world.kafka.producer({
      transactionalId: uniqueName('ms-cl-tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    })
    producers.push(tx)
    await tx.connect()
    // In order (one key is one partition), in a committed transaction: a Flink exactly-once sink.
    const committed = await tx.transaction()
    await committed.send({ topic: world.topic, messages: first.records })
    await committed.commit()
    // An aborted transaction with rows that must never be seen, then committed updates after it.
    const aborted = await tx.transaction()
    await aborted.send({
      topic: world.topic,
      messages: [...first.rows.keys()].map((status) =>
        record(status, { status, invoices: 999_999, amount_cents: 999_999 }),
      ),
    })
    await aborted.abort()
    const second = updates(200, 72, 25)
    const rows = new Map(first.rows)
    for (const r of second.records) {
      const status = (JSON.parse(r.key) as { status: string }).status
      if (r.value === null) rows.delete(status)
      else rows.set(status, JSON.parse(r.value) as Row)
    }
    const after = await tx.transaction()
    await after.send({ topic: world.topic, messages: second.records })
    await after.commit()
    // A record the mapping cannot read: dead-lettered, nothing else of the chunk lost.
    await world.producer.send({
      topic: world.topic,
      messages: [
        { key: JSON.stringify({ status: 'bad' }), value: JSON.stringify({ status: 'bad', invoices: 1.5 }) },
      ],
    })

    const dashboard = createDashboard({ redis: world.redis, namespace: world.namespace, view, cache: false })
    const notices: number[] = []
    const unsubscribe = await dashboard.onChange((notice) => notices.push(notice.version))
    const consumer = world.consumerOf(view, `${world.namespace}-g`)
    await consumer.start()
    await caughtUp(consumer, world.partitions)
    const truth = expected(rows)
    const read = await dashboard.read()
    expect(read.figures).toEqual(truth)
    expect(Object.values(read.figures.byStatus)).not.toContain(999_999)
    expect(read.version).toBeGreaterThan(0)
    await waitFor('change notices', () => notices.length > 0 && Math.max(...notices) === read.version)
    expect(consumer.stats().deadLettered).toBe(1)
    const [dead] = await world.readTopic(world.dlq, 1)
    expect(dead?.headers['x-error-code']).toBe('E_STREAM_INVALID_EVENT')
    unsubscribe()

    // A new group: Kafka hands every record over again; Redis's offsets skip them all.
    await consumer.stop()
    const again = world.consumerOf(view, `${world.namespace}-g2`)
    await again.start()
    await caughtUp(again, world.partitions)
    expect(again.stats().applied).toBe(0)
    expect((await dashboard.read()).figures).toEqual(truth)
    await again.stop()

    // A rebuild replays the (compacted) topic into generation 2: the same figures.
    const rebuild = await startRebuild({
      redis: world.redis,
      namespace: world.namespace,
      view,
      source: kafkaSource({
        kafka: world.kafka,
        groupId: `${world.namespace}-rebuild`,
        topics: [world.topic],
        consumer: FAST_GROUP,
      }),
    })
    await waitFor('the rebuild to catch up', async () => (await rebuild.lag()) === 0)
    await rebuild.promote()
    await rebuild.consumer.stop()
    expect(await currentGeneration(world.redis, world.namespace, view.name)).toBe(2)
    const rebuilt = await dashboard.read()
    expect(rebuilt.generation).toBe(2)
    expect(rebuilt.figures).toEqual(truth)
  })

  it('push: a subscriber and the in-process copy see each upsert and tombstone (text keys, as Kafka Streams writes them)', async () => {
    const world = await new World(1).init()
    worlds.push(world)
    // Kafka Streams' KTable#toStream() with Serdes.String() keys: no key mapping, the key's text.
    const view = defineChangelogView({
      name: 'kstreams',
      topic: world.topic,
      figures: { counts: { column: 'count' } },
    })
    const consumer = world.consumerOf(view, `${world.namespace}-g`)
    await consumer.start()
    const dashboard = createDashboard({ redis: world.redis, namespace: world.namespace, view })
    const send = (key: string, value: unknown) =>
      world.producer.send({
        topic: world.topic,
        messages: [{ key, value: value === null ? null : JSON.stringify(value) }],
      })
    await send('paid', { count: 3 })
    await caughtUp(consumer, 1)
    const controller = new AbortController()
    const updates: Array<{ version: number; counts: Record<string, number> }> = []
    const iterating = (async () => {
      for await (const update of dashboard.subscribe(undefined, { signal: controller.signal })) {
        updates.push({ version: update.version, counts: update.figures.counts })
      }
    })().catch(() => undefined)
    try {
      await waitFor('the first snapshot', () => updates.length > 0)
      expect(updates[0]?.counts).toEqual({ paid: 3 })
      await send('paid', { count: 5 })
      await waitFor('the upsert pushed', () => updates.some((u) => u.counts.paid === 5))
      await send('open', { count: 1 })
      await send('paid', null)
      await waitFor('the tombstone pushed', () =>
        updates.some((u) => JSON.stringify(u.counts) === '{"open":1}'),
      )
      const versions = updates.map((u) => u.version)
      expect(versions).toEqual([...versions].sort((x, y) => x - y))
      expect(new Set(versions).size).toBe(versions.length)
      // Served by the in-process copy the notices keep coherent: the tombstone is not a stale read.
      expect((await dashboard.read()).figures.counts).toEqual({ open: 1 })
      expect(dashboard.stats().subscribed).toBe(true)
    } finally {
      controller.abort()
      await iterating
      await dashboard.close()
    }
  })

  it('a view combining embedded aggregates (events topic) and changelog figures (a second topic)', async () => {
    const world = await new World(2).init()
    worlds.push(world)
    const changelogTopic = uniqueName('ms-cl')
    await world.admin.createTopics({ topics: [{ topic: changelogTopic, numPartitions: 2 }] })
    await waitFor('the changelog topic to have leaders', async () => {
      const metadata = await world.admin.fetchTopicMetadata({ topics: [changelogTopic] })
      return metadata.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
    })
    try {
      const view = defineView({
        name: invoiceView.name,
        decode: invoiceView.decode,
        eventTime: invoiceView.eventTime,
        rows: invoiceView.rows,
        aggregates: {
          ...invoiceAggregates,
          ...changelog({
            topic: changelogTopic,
            key: ['status'],
            figures: {
              flinkByStatus: { column: 'invoices' },
              flinkAmountByStatus: { column: 'amount_cents' },
            },
          }),
        },
      })
      const events = generateEvents(800, 73)
      await world.produce(events)
      const { records, rows } = updates(300, 74, 10)
      await world.producer.send({ topic: changelogTopic, messages: records })
      const consumer = createMetricsConsumer({
        redis: world.redis,
        namespace: world.namespace,
        view,
        source: kafkaSource({
          kafka: world.kafka,
          groupId: `${world.namespace}-g`,
          topics: [world.topic, changelogTopic],
          consumer: FAST_GROUP,
        }),
        batchSize: 100,
      })
      try {
        await consumer.start()
        await caughtUp(consumer, 4)
        const { figures } = await createDashboard({
          redis: world.redis,
          namespace: world.namespace,
          view,
          cache: false,
        }).read(READ_RANGE)
        const { flinkByStatus, flinkAmountByStatus, ...embedded } = figures
        expect(asTruth(embedded)).toEqual(groundTruth(events))
        expect({ byStatus: flinkByStatus, amountByStatus: flinkAmountByStatus }).toEqual(expected(rows))
        expect(consumer.stats().applied).toBe(events.length + records.length)
        expect(consumer.stats().deadLettered).toBe(0)
      } finally {
        await consumer.stop()
      }
    } finally {
      await world.admin.deleteTopics({ topics: [changelogTopic] })
    }
  })
})
