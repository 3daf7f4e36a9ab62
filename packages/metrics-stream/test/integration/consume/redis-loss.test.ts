/**
 * Redis loses the view's state while the consumer runs (a private redis-server killed with SIGKILL
 * and started again empty, no persistence), events keep arriving: the consumer must notice and
 * rebuild the view from the topic by itself, reads meanwhile must say so (a read presenting
 * partial figures as live is counted; it must be 0), SSE subscribers must get the rebuild's start
 * and a resync at its end, health must be degraded meanwhile. And when the topic no longer holds
 * the events (retention), health must be down with the reason instead of partial figures read as
 * complete.
 *
 * Before the fix (reproduced on 2026-12-02 with the same set-up): after the restart the dashboard
 * showed 753 of 3,011 invoices for good (the partitions that received no new record never
 * replayed), SSE subscribers received nothing (versions started again below the last one seen),
 * and nothing reported a problem.
 */
import { once } from 'node:events'
import { createServer, get, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isDeepStrictEqual } from 'node:util'
import { startPrivateRedis } from '@ayala/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createDashboard,
  currentGeneration,
  type Dashboard,
  type HealthState,
  kafkaSource,
  MetricsConsumer,
  startRebuild,
  streamDashboard,
} from '../../../src/index.js'
import { entityView, generateVersions, truthOfRows } from '../../helpers/entity-invoices.js'
import { FAST_GROUP, World, waitFor } from '../../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  type invoiceAggregates,
  invoiceView,
  READ_RANGE,
  type Truth,
} from '../../helpers/invoices.js'

/** A reader reading in a loop, classifying every read. */
class Reader {
  reads = 0
  /** Reads after the loss that said `live` with fewer invoices than before the loss. */
  partialAsLive = 0
  /** Reads that said the figures were not complete (rebuilding, missing, incomplete). */
  notLive = new Map<string, number>()
  firstLiveAtTruth: number | undefined
  private stopped = false
  private readonly done: Promise<void>
  constructor(
    private readonly dashboard: Dashboard<typeof invoiceAggregates>,
    private readonly floor: number,
    private readonly truth: () => Truth,
  ) {
    this.done = this.loop()
  }
  private async loop(): Promise<void> {
    while (!this.stopped) {
      // A read served from the in-process copy resolves at once: let timers and I/O run.
      await new Promise((done) => setImmediate(done))
      try {
        const snapshot = await this.dashboard.read(READ_RANGE)
        this.reads++
        if (snapshot.status === 'live') {
          if (snapshot.figures.invoices < this.floor) this.partialAsLive++
          if (
            this.firstLiveAtTruth === undefined &&
            isDeepStrictEqual(asTruth(snapshot.figures), this.truth())
          ) {
            this.firstLiveAtTruth = Date.now()
          }
        } else this.notLive.set(snapshot.status, (this.notLive.get(snapshot.status) ?? 0) + 1)
      } catch {
        // Redis is down for a moment: a failed read presents nothing. Counted as a read attempt.
        this.reads++
        await new Promise((done) => setTimeout(done, 20))
      }
    }
  }
  async stop(): Promise<void> {
    this.stopped = true
    await this.done
  }
}

/** An SSE client of `streamDashboard`, keeping every event. */
async function sseClient(dashboard: Dashboard<typeof invoiceAggregates>) {
  const server = createServer((_req, res) => void streamDashboard(dashboard, res, { params: READ_RANGE }))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const events: Array<{ event: string; data: any }> = []
  const response = await new Promise<IncomingMessage>((resolve) => get(`http://127.0.0.1:${port}/`, resolve))
  let buffer = ''
  response.setEncoding('utf8')
  response.on('data', (chunk: string) => {
    buffer += chunk
    const blocks = buffer.split('\n\n')
    buffer = blocks.pop() ?? ''
    for (const block of blocks) {
      const event = /^event: (.*)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (event && data) events.push({ event, data: JSON.parse(data) })
    }
  })
  return {
    events,
    async close() {
      response.destroy()
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

async function produceTo(world: World, partition: number, events: readonly InvoiceEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 50) {
    await world.producer.send({
      topic: world.topic,
      messages: events.slice(i, i + 50).map((e) => ({ key: e.id, value: JSON.stringify(e), partition })),
    })
    await new Promise((done) => setTimeout(done, 50))
  }
}

describe('Redis loses the view state while the consumer runs', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  it('heals by itself: reads report the rebuild (0 partial reads as live), SSE resyncs, health degraded meanwhile', async () => {
    const redis = await startPrivateRedis()
    cleanups.push(() => redis.dispose())
    const world = await new World(4, redis.url).init()
    cleanups.push(() => world.dispose())
    const events = generateEvents(3_000, 7)
    // After the restart new events arrive on partition 0 only: partitions 1-3 get nothing new and
    // must be replayed all the same.
    const later = generateEvents(400, 8, 'later')
    const truth = groundTruth([...events, ...later])
    const consumer = world.consumer(undefined, { stateCheckInterval: '250ms' })
    await consumer.start()
    await world.produce(events)
    await world.waitCaughtUp()

    const cached = createDashboard({ redis: world.redis, namespace: world.namespace, view: invoiceView })
    const plain = createDashboard({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
      cache: false,
    })
    cleanups.push(async () => {
      await cached.close()
      await plain.close()
    })
    await cached.ready()
    const before = await plain.read(READ_RANGE)
    expect(before.status).toBe('live')
    expect(asTruth(before.figures)).toEqual(groundTruth(events))
    expect((await consumer.health()).state).toBe('up')
    const sse = await sseClient(cached)
    cleanups.push(() => sse.close())
    await waitFor('the first SSE snapshot', () => sse.events.some((e) => e.event === 'figures'))

    // Health sampled all along.
    const healthStates = new Set<HealthState>()
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        healthStates.add((await consumer.health()).state)
        await new Promise((done) => setTimeout(done, 50))
      }
    })()
    const readers = [
      new Reader(plain, before.figures.invoices, () => truth),
      new Reader(cached, before.figures.invoices, () => truth),
    ]

    await redis.stop()
    await redis.start()
    const restartedAt = Date.now()
    await produceTo(world, 0, later)
    await waitFor(
      'the dashboard back at the truth, live',
      () => readers.every((r) => r.firstLiveAtTruth !== undefined),
      120_000,
    )
    const healedAt = Math.max(...readers.map((r) => r.firstLiveAtTruth as number))
    await Promise.all(readers.map((r) => r.stop()))
    sampling = false
    await sampler

    const after = await plain.read(READ_RANGE)
    expect(after.status).toBe('live')
    expect(asTruth(after.figures)).toEqual(truth)
    expect(after.epoch).not.toBe(before.epoch)
    for (const reader of readers) {
      expect(reader.partialAsLive, 'reads presenting partial figures as live').toBe(0)
      expect([...reader.notLive.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    }
    expect(healthStates.has('degraded')).toBe(true)
    expect((await consumer.health()).state).toBe('up')
    expect((await plain.health()).state).toBe('up')
    // One state created at the start, one after the loss.
    expect(consumer.stats().rebuilds).toBe(2)

    // SSE: the rebuild's start, then a resync when it completed, ending at the truth.
    await waitFor('the SSE stream at the truth', () => {
      const last = sse.events.filter((e) => e.event === 'figures').at(-1)?.data
      return last?.status === 'live' && isDeepStrictEqual(asTruth(last.figures), truth)
    })
    const statuses = sse.events.filter((e) => e.event === 'status').map((e) => e.data.status as string)
    expect(statuses[0]).toBe('live')
    expect(statuses).toContain('rebuilding')
    expect(statuses.at(-1)).toBe('live')
    const resynced = sse.events.filter(
      (e) =>
        e.event === 'figures' &&
        e.data.resync === true &&
        e.data.status === 'live' &&
        e.data.epoch === after.epoch,
    )
    expect(resynced.length).toBeGreaterThan(0)
    // Figures events during the rebuild were flagged as such, never as live with fewer invoices.
    const sseFigures = sse.events.filter((e) => e.event === 'figures').map((e) => e.data)
    expect(
      sseFigures.filter((f) => f.status === 'live' && f.figures.invoices < before.figures.invoices),
    ).toHaveLength(0)
    console.info(
      `Redis restarted empty: healed ${healedAt - restartedAt} ms after the restart; reads ${readers
        .map((r) => `${r.reads} (${[...r.notLive].map(([s, n]) => `${n} ${s}`).join(', ')})`)
        .join(
          ' / ',
        )}; partial read as live: ${readers.map((r) => r.partialAsLive).join(' / ')}; SSE statuses ${statuses.join(' > ')}`,
    )
  })

  it('two members of one group: one recreates the state, the other adopts it; both replay their partitions', async () => {
    const redis = await startPrivateRedis()
    cleanups.push(() => redis.dispose())
    const world = await new World(4, redis.url).init()
    cleanups.push(() => world.dispose())
    const events = generateEvents(2_000, 47)
    const a = world.consumer(undefined, { stateCheckInterval: '250ms' })
    const b = world.consumer(undefined, { stateCheckInterval: '250ms' })
    await a.start()
    await b.start()
    await world.produce(events)
    await world.waitCaughtUp()
    // Both members hold partitions (the group split the four between them).
    await waitFor('both members applied', () => a.stats().applied > 0 && b.stats().applied > 0)
    const plain = createDashboard({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
      cache: false,
    })
    cleanups.push(() => plain.close())
    const before = await plain.read(READ_RANGE)
    const truth = groundTruth(events)
    const reader = new Reader(plain, before.figures.invoices, () => truth)
    await redis.stop()
    await redis.start()
    const restartedAt = Date.now()
    // No new event at all: every partition is idle and must be replayed all the same.
    await waitFor('the dashboard back at the truth', () => reader.firstLiveAtTruth !== undefined, 120_000)
    await reader.stop()
    console.info(
      `two members: healed ${(reader.firstLiveAtTruth as number) - restartedAt} ms after the restart; ${reader.reads} reads, ${[...reader.notLive].map(([st, n]) => `${n} ${st}`).join(', ')}, ${reader.partialAsLive} partial as live`,
    )
    expect(reader.partialAsLive).toBe(0)
    const after = await plain.read(READ_RANGE)
    expect(after.status).toBe('live')
    expect(asTruth(after.figures)).toEqual(truth)
    // One state created at the start and one after the loss, each by one member and adopted by
    // the other (never two states for one loss).
    expect(a.stats().rebuilds + b.stats().rebuilds).toBe(2)
    expect((await a.health()).state).toBe('up')
    expect((await b.health()).state).toBe('up')
  })

  it('a consumer on generation 2 (after a promoted rebuild): the pointer is restored, readers follow it', async () => {
    const redis = await startPrivateRedis()
    cleanups.push(() => redis.dispose())
    const world = await new World(2, redis.url).init()
    cleanups.push(() => world.dispose())
    const events = generateEvents(1_000, 17)
    const later = generateEvents(200, 18, 'later')
    const first = world.consumer(undefined, { stateCheckInterval: '250ms' })
    await first.start()
    await world.produce(events)
    await world.waitCaughtUp()
    const rebuild = await startRebuild({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
      stateCheckInterval: '250ms',
      source: kafkaSource({
        kafka: world.kafka,
        groupId: `${world.namespace}-g2`,
        topics: [world.topic],
        consumer: FAST_GROUP,
      }),
    })
    cleanups.push(() => rebuild.consumer.stop())
    await waitFor('the rebuild caught up', async () => (await rebuild.lag()) === 0)
    await rebuild.promote()
    await first.stop()
    // The rebuild consumer learns that readers follow it at its next state check.
    await new Promise((done) => setTimeout(done, 600))

    const plain = createDashboard({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
      cache: false,
    })
    cleanups.push(() => plain.close())
    const truth = groundTruth([...events, ...later])
    const reader = new Reader(
      plain,
      events.length === 0 ? 0 : (await plain.read(READ_RANGE)).figures.invoices,
      () => truth,
    )
    await redis.stop()
    await redis.start()
    await world.produce(later)
    await waitFor('the dashboard back at the truth', () => reader.firstLiveAtTruth !== undefined, 120_000)
    await reader.stop()
    expect(reader.partialAsLive).toBe(0)
    expect(await currentGeneration(world.redis, world.namespace, invoiceView.name)).toBe(2)
    const after = await plain.read(READ_RANGE)
    expect(after.generation).toBe(2)
    expect(asTruth(after.figures)).toEqual(truth)
  })
})

describe('the topic no longer holds the events (retention)', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  it('a replay that needs deleted records: health down with E_STREAM_LOG_TRUNCATED, never read as live', async () => {
    const world = await new World(2).init()
    cleanups.push(() => world.dispose())
    const events = generateEvents(600, 27)
    const consumer = world.consumer(undefined, { stateCheckInterval: '200ms' })
    await consumer.start()
    await world.produce(events)
    await world.waitCaughtUp()
    expect((await consumer.health()).state).toBe('up')
    // Retention deletes the start of partition 0: the running view does not need those records.
    await world.admin.deleteTopicRecords({
      topic: world.topic,
      partitions: [{ partition: 0, offset: '100' }],
    })
    await new Promise((done) => setTimeout(done, 500))
    expect((await consumer.health()).state).toBe('up')

    const plain = createDashboard({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
      cache: false,
    })
    cleanups.push(() => plain.close())
    const live = await plain.read(READ_RANGE)
    // Now Redis loses the view's state (its keys only: the shared server cannot be restarted).
    const reader = new Reader(plain, live.figures.invoices, () => groundTruth(events))
    const keys = await world.redis.keys(`{${world.namespace}:*`)
    await world.redis.unlink(...keys)
    await waitFor('health down', async () => (await consumer.health()).state === 'down')
    await world.waitCaughtUp()
    await new Promise((done) => setTimeout(done, 500))
    await reader.stop()

    const health = await consumer.health()
    expect(health.state).toBe('down')
    expect(health.reasons.map((r) => r.code)).toContain('E_STREAM_LOG_TRUNCATED')
    const read = await plain.read(READ_RANGE)
    expect(read.status).toBe('incomplete')
    expect(read.reason?.code).toBe('E_STREAM_LOG_TRUNCATED')
    expect(read.reason?.message).toMatch(/starts at offset 100/)
    expect((await plain.health()).state).toBe('down')
    // Every record still held was replayed, but the figures are not presented as the truth.
    expect(read.figures.invoices).toBeLessThan(live.figures.invoices)
    expect(reader.partialAsLive).toBe(0)
    expect(reader.notLive.get('incomplete') ?? 0).toBeGreaterThan(0)

    // A new view over the same topic is down from its first start for the same reason.
    const fresh = world.consumerOf(invoiceView, `${world.namespace}-fresh`, {
      namespace: `${world.namespace}-fresh`,
    })
    await fresh.start()
    const freshHealth = await fresh.health()
    expect(freshHealth.state).toBe('down')
    expect(freshHealth.reasons[0]?.code).toBe('E_STREAM_LOG_TRUNCATED')
  })

  it('a compacted topic: an entity view rebuilds completely, a delta view is down with E_STREAM_LOG_COMPACTED', async () => {
    const world = await new World(2, undefined, [{ name: 'cleanup.policy', value: 'compact' }]).init()
    cleanups.push(() => world.dispose())
    const versions = generateVersions(300, 37)
    await world.produceJson(versions.map((e) => ({ key: e.id, value: e })))
    const entity = world.consumerOf(entityView, `${world.namespace}-e`)
    const delta = world.consumerOf(invoiceView, `${world.namespace}-d`, { namespace: `${world.namespace}-d` })
    await Promise.all([entity.start(), delta.start()])
    await world.waitCaughtUp()
    await world.waitCaughtUp(1, 90_000, `${world.namespace}-d`)
    await waitFor('the entity view live', async () => (await entity.health()).state === 'up')
    const read = await createDashboard({
      redis: world.redis,
      namespace: world.namespace,
      view: entityView,
      cache: false,
    }).read(READ_RANGE)
    expect(read.status).toBe('live')
    expect(asTruth(read.figures)).toEqual(truthOfRows(versions))
    const deltaHealth = await delta.health()
    expect(deltaHealth.state).toBe('down')
    expect(deltaHealth.reasons[0]?.code).toBe('E_STREAM_LOG_COMPACTED')
    expect(deltaHealth.view?.status).toBe('incomplete')
    void MetricsConsumer
  })
})
