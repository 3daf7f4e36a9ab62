/**
 * A private six-node Redis Cluster (testkit's startRedisCluster) whose view slot is moved between
 * masters (testkit's reshardSlots: SETSLOT IMPORTING/MIGRATING, MIGRATE in batches with the
 * window held open, SETSLOT NODE) while a consumer applies a stream of invoice events into it and
 * a dashboard reads it.
 *
 * During a move the view's keys are split between two masters: the apply script (every key
 * declared) and the dashboard's MULTI/EXEC meet `ASK` (a key already moved) and `TRYAGAIN` (keys
 * on both sides, or a new aggregate key the target cannot create yet). Asserted: the final figures
 * equal the ground truth computed from the produced events, every event applied exactly once (the
 * partitions' `applied` counters sum to the events produced, no duplicate skipped, no dead
 * letter), every snapshot the dashboard served during the moves is internally consistent (the
 * counts by status sum to the invoice count, the amounts by day to the amounts by status) and
 * never older than one it served before (a read the split slot cannot answer within its deadline
 * is answered stale, flagged, never rejected), and the servers counted ASK redirections followed
 * and MOVED replies (the test cannot pass without a move). Two dashboards read: one with the
 * in-process copy (the default), one with `cache: false` (every read a MULTI/EXEC to the slot).
 *
 * With AYALA_FAILOVER_REPORT=1 the run prints one line of figures (docs/operations.md).
 */
import {
  clusterMasters,
  keySlot,
  type RedisCluster,
  redirectionCounts,
  reshardSlots,
  slotOwner,
  startRedisCluster,
} from '@ayala/testkit'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createDashboard,
  createMetricsConsumer,
  type DashboardSnapshot,
  kafkaSource,
  viewKeys,
} from '../../../src/index.js'
import { FAST_GROUP, World, waitFor } from '../../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  invoiceView,
  READ_RANGE,
} from '../../helpers/invoices.js'

const report = process.env.AYALA_FAILOVER_REPORT === '1'
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

type Snapshot = DashboardSnapshot<(typeof invoiceView)['aggregates']>

/** A snapshot's own consistency: one atomic read of figures written by atomic scripts. */
function consistent(snapshot: Snapshot): boolean {
  const f = snapshot.figures
  const byStatus = Object.values(f.byStatus).reduce((sum, n) => sum + n, 0)
  const amounts = Object.values(f.amountByStatus).reduce((sum, n) => sum + n, 0)
  let byDay = 0
  for (const day of Object.values(f.amountByDay)) for (const n of Object.values(day)) byDay += n
  return byStatus === f.invoices && byDay === amounts
}

describe('Redis Cluster: the view slot resharded while the consumer applies and the dashboard reads', () => {
  let cluster: RedisCluster
  let redis: Cluster
  let world: World

  beforeAll(async () => {
    cluster = await startRedisCluster()
    redis = new Cluster([...cluster.nodes], { redisOptions: { maxRetriesPerRequest: null } })
    // Kafka from the world; its own Redis connection (the machine's) holds nothing of this test.
    world = await new World(4).init()
  })

  afterAll(async () => {
    await world?.dispose()
    redis?.disconnect()
    await cluster?.dispose()
  })

  it('figures equal the ground truth, every event applied once, the dashboard consistent', async () => {
    const events = generateEvents(1_500, 4242)
    const slot = await keySlot(cluster, viewKeys(world.namespace, invoiceView.name, 1).slot)
    const home = await slotOwner(cluster, slot)
    const away = (await clusterMasters(cluster)).find((m) => m.port !== home.port)
    if (away === undefined) throw new Error('no second master')

    const consumer = createMetricsConsumer<InvoiceEvent>({
      redis,
      namespace: world.namespace,
      view: invoiceView,
      batchSize: 50,
      source: kafkaSource({
        kafka: world.kafka,
        groupId: `${world.namespace}-g`,
        topics: [world.topic],
        commitInterval: '1s',
        consumer: FAST_GROUP,
      }),
    })
    const dashboard = createDashboard({ redis, namespace: world.namespace, view: invoiceView })
    // A second dashboard without the in-process copy: every read is a MULTI/EXEC to the slot.
    const direct = createDashboard({ redis, namespace: world.namespace, view: invoiceView, cache: false })
    await consumer.start()
    try {
      // A first part applied before any move, so the slot holds the view's keys when it moves.
      await world.produce(events.slice(0, 300))
      await waitFor('the first events applied', () => consumer.stats().applied >= 300 || undefined)
      await dashboard.ready()
      const before = await redirectionCounts(cluster)

      let running = true
      const reads = { served: 0, stale: 0, failed: 0, inconsistent: 0, wentBack: 0 }
      const readLoad = (board: typeof dashboard) =>
        (async () => {
          let lastVersion = 0
          while (running) {
            try {
              const snapshot = (await board.read(READ_RANGE)) as Snapshot
              reads.served++
              if (snapshot.stale) reads.stale++
              if (!consistent(snapshot)) reads.inconsistent++
              if (snapshot.version < lastVersion) reads.wentBack++
              lastVersion = Math.max(lastVersion, snapshot.version)
            } catch {
              reads.failed++
            }
            await sleep(5)
          }
        })()
      const readers = [readLoad(dashboard), readLoad(direct)]
      // The rest produced in slices while the slot moves away, back, away and back.
      const produceLoad = (async () => {
        for (let i = 300; i < events.length; i += 100) {
          await world.produce(events.slice(i, i + 100))
          await sleep(250)
        }
      })()
      const moves = []
      for (const to of [away, home, away, home]) {
        moves.push(
          await reshardSlots(cluster, {
            slots: [slot],
            to,
            batchSize: 10,
            batchPauseMs: 10,
            holdOpenMs: 1_500,
          }),
        )
        await sleep(200)
      }
      await produceLoad
      const lag = async () => {
        const keys = viewKeys(world.namespace, invoiceView.name, 1)
        const highs = await world.admin.fetchTopicOffsets(world.topic)
        let total = 0
        for (const { partition, high } of highs) {
          const stored = await redis.hget(keys.partition(world.topic, partition), 'offset')
          total += Number(high) - (stored === null ? 0 : Number(stored) + 1)
        }
        return total
      }
      await waitFor('Redis to catch up with Kafka', async () => (await lag()) === 0 || undefined, 60_000)
      running = false
      await Promise.all(readers)
      const after = await redirectionCounts(cluster)

      const keys = viewKeys(world.namespace, invoiceView.name, 1)
      let applied = 0
      for (let p = 0; p < world.partitions; p++)
        applied += Number((await redis.hget(keys.partition(world.topic, p), 'applied')) ?? 0)
      const snapshot = (await dashboard.read(READ_RANGE)) as Snapshot
      const stats = consumer.stats()
      const figures = {
        moves: moves.length,
        keysMoved: moves.reduce((sum, m) => sum + m.keysMoved, 0),
        openMs: Math.round(moves.reduce((sum, m) => sum + m.openMs, 0)),
        events: events.length,
        applied,
        lost: events.length - Math.min(applied, events.length),
        doubled: Math.max(0, applied - events.length),
        duplicates: stats.duplicates,
        retries: stats.retries,
        chunks: stats.chunks,
        ...reads,
        readFailures: dashboard.stats().readFailures + direct.stats().readFailures,
        asking: after.asking - before.asking,
        moved: after.moved - before.moved,
        ask: after.ask - before.ask,
        tryAgain: after.tryAgain - before.tryAgain,
      }
      if (report) console.info(`[metrics reshard] ${JSON.stringify(figures)}`)

      expect(moves.every((m) => m.slots.length === 1 && m.keysMoved > 0)).toBe(true)
      expect(asTruth(snapshot.figures)).toEqual(groundTruth(events))
      expect(snapshot.stale).toBe(false)
      expect({ lost: figures.lost, doubled: figures.doubled, deadLettered: stats.deadLettered }).toEqual({
        lost: 0,
        doubled: 0,
        deadLettered: 0,
      })
      // A read the split slot could not answer within its deadline is answered stale (flagged,
      // from the last snapshot), never rejected and never torn.
      expect({ inconsistent: reads.inconsistent, wentBack: reads.wentBack, failed: reads.failed }).toEqual({
        inconsistent: 0,
        wentBack: 0,
        failed: 0,
      })
      expect(reads.served).toBeGreaterThan(0)
      expect(figures.asking).toBeGreaterThan(0)
      expect(figures.moved).toBeGreaterThan(0)
      expect((await consumer.health()).state).toBe('up')
    } finally {
      await dashboard.close()
      await direct.close()
      await consumer.stop()
    }
  }, 120_000)
})
