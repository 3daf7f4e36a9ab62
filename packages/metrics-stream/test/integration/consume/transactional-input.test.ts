/**
 * Input written in Kafka transactions by kafkajs's own transactional producer (what an
 * exactly-once Flink or Kafka Streams job does in Java: `kafka-interop.test.ts`): committed
 * transactions with aborted ones in between, and one transaction left open across a restart of
 * the consumer, then aborted. The committed offset (last record + 1) lands on a commit or abort
 * marker; the restarted consumer must neither stall on it nor apply anything twice, and its lag
 * must reach 0 with the markers counted. Figures are compared with the ground truth of the
 * committed events only.
 */
import { uniqueName } from '@ayala/testkit'
import type { Producer } from 'kafkajs'
import { afterEach, describe, expect, it } from 'vitest'
import { createDashboard } from '../../../src/index.js'
import { World, waitFor } from '../../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  invoiceView,
  READ_RANGE,
} from '../../helpers/invoices.js'

async function read(world: World) {
  const dashboard = createDashboard({
    redis: world.redis,
    namespace: world.namespace,
    view: invoiceView,
    cache: false,
  })
  return asTruth((await dashboard.read(READ_RANGE)).figures)
}

async function transactional(world: World): Promise<Producer> {
  const producer = world.kafka.producer({
    transactionalId: uniqueName('ms-kjs-tx'),
    idempotent: true,
    maxInFlightRequests: 1,
  })
  await producer.connect()
  return producer
}

/** One transaction of `events` (keyed by invoice, so an invoice stays in one partition), left open. */
async function open(producer: Producer, world: World, events: readonly InvoiceEvent[]) {
  const tx = await producer.transaction()
  for (let i = 0; i < events.length; i += 100) {
    await tx.send({
      topic: world.topic,
      messages: events.slice(i, i + 100).map((e) => ({ key: e.id, value: JSON.stringify(e) })),
    })
  }
  return tx
}

/**
 * Caught up with every committed event: the transaction markers are written by the coordinator
 * after `commit()`/`abort()` answer, so Kafka's last stable offset (what the lag check reads) can
 * still stand below the events of a just-committed transaction for a moment. Waits (bounded)
 * for the consumer's own count of applied events to reach the committed ones and for the lag to
 * be 0; a lost event times out here, a doubled one fails the exact checks after it.
 */
async function caughtUpWith(world: World, committed: readonly InvoiceEvent[]): Promise<void> {
  await waitFor(`${committed.length} committed events applied`, async () => {
    return (await world.stateCounter('applied')) >= committed.length && (await world.lag()) === 0
  })
}

/** Kafka's committed offset of every partition equals its end (the last marker included). */
async function committedAtEnd(world: World, groupId: string): Promise<boolean> {
  const [ends, committed] = await Promise.all([
    world.admin.fetchTopicOffsets(world.topic),
    world.admin.fetchOffsets({ groupId, topics: [world.topic] }),
  ])
  const byPartition = new Map(committed[0]?.partitions.map((p) => [p.partition, p.offset]))
  return ends.every((end) => byPartition.get(end.partition) === end.high)
}

describe('transactional input (kafkajs transactional producer)', () => {
  const worlds: World[] = []
  const producers: Producer[] = []
  afterEach(async () => {
    await Promise.allSettled(producers.splice(0).map((p) => p.disconnect()))
    await Promise.allSettled(worlds.splice(0).map((w) => w.dispose()))
  })

  it('counts committed transactions only, across a restart inside an open transaction: 0 lost, 0 doubled, lag 0', async () => {
    const world = await new World(3).init()
    worlds.push(world)
    const groupId = `${world.namespace}-g`
    const a = await transactional(world)
    const b = await transactional(world)
    producers.push(a, b)
    const batches = [1, 2, 3, 4, 5, 6].map((n) => generateEvents(120, 500 + n, `tx${n}`))
    const [c1, x2, c3, o4, c5, c6] = batches as [
      InvoiceEvent[],
      InvoiceEvent[],
      InvoiceEvent[],
      InvoiceEvent[],
      InvoiceEvent[],
      InvoiceEvent[],
    ]
    // Committed, aborted, committed.
    await (await open(a, world, c1)).commit()
    await (await open(a, world, x2)).abort()
    await (await open(a, world, c3)).commit()

    const first = world.consumer(groupId)
    await first.start()
    await caughtUpWith(world, [...c1, ...c3])
    expect(await read(world)).toEqual(groundTruth([...c1, ...c3]))
    await waitFor("Kafka's committed offsets to reach the end, markers included", () =>
      committedAtEnd(world, groupId),
    )

    // A transaction opened while the consumer runs (its records sit above the last stable
    // offset: nothing of it is handed over), the consumer stopped and started again inside it,
    // then the transaction aborted and more committed behind it.
    const pending = await open(b, world, o4)
    await new Promise((done) => setTimeout(done, 1_000))
    expect(await read(world)).toEqual(groundTruth([...c1, ...c3]))
    await first.stop()
    const second = world.consumer(groupId)
    await second.start()
    await pending.abort()
    await (await open(a, world, c5)).commit()
    await (await open(b, world, c6)).commit()
    const committed = [...c1, ...c3, ...c5, ...c6]
    await caughtUpWith(world, committed)

    expect(await read(world)).toEqual(groundTruth(committed))
    // Redis's own count of applied events: every committed event once (none lost, none doubled,
    // no aborted one), over both consumers.
    expect(await world.stateCounter('applied')).toBe(committed.length)
    expect(first.stats().applied + second.stats().applied).toBe(committed.length)
    expect(second.stats().deadLettered).toBe(0)
    expect((await second.lag()).every((p) => p.lag === 0)).toBe(true)
    await waitFor("Kafka's committed offsets to reach the end after the restart", () =>
      committedAtEnd(world, groupId),
    )
  })
})
