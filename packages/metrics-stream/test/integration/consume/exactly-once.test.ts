import { startPrivateRedis } from '@ayala/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { type AppliedEvent, createDashboard } from '../../../src/index.js'
import { Child, World, waitFor } from '../../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  invoiceView,
  READ_RANGE,
} from '../../helpers/invoices.js'

async function expectTruth(world: World, events: readonly InvoiceEvent[], generation = 1): Promise<void> {
  const dashboard = createDashboard({
    redis: world.redis,
    namespace: world.namespace,
    view: invoiceView,
    cache: false,
  })
  const snapshot = await dashboard.read(READ_RANGE)
  await dashboard.close()
  // The log itself holds each event once (an idempotent producer): a discrepancy below is then
  // the consumer's, not a producer retry that wrote a record twice.
  const highs = await world.admin.fetchTopicOffsets(world.topic)
  expect(highs.reduce((sum, { high, low }) => sum + Number(high) - Number(low), 0)).toBe(events.length)
  expect(snapshot.generation).toBe(generation)
  expect(asTruth(snapshot.figures)).toEqual(groundTruth(events))
  // Counted inside the apply script: every event applied exactly once.
  expect(await world.stateCounter('applied', generation)).toBe(events.length)
}

/** Produce `events` in slices while `during` runs, so consumers work on a flowing stream. */
async function flow(
  world: World,
  events: readonly InvoiceEvent[],
  slices: number,
  between: () => Promise<void>,
) {
  const size = Math.ceil(events.length / slices)
  for (let i = 0; i < slices; i++) {
    await world.produce(events.slice(i * size, (i + 1) * size))
    await between()
  }
}

describe('exactly-once effect on real Kafka and Redis', () => {
  let world: World | undefined
  const children: Child[] = []
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.kill()))
    await world?.dispose()
    world = undefined
  })

  it('a consumer process killed with SIGKILL mid-stream and restarted: exact totals, redelivery skipped', async () => {
    world = await new World(4).init()
    const events = generateEvents(3_000, 11)
    const group = `${world.namespace}-g`
    const first = new Child(world, group)
    children.push(first)
    await flow(world, events.slice(0, events.length / 2), 5, async () => undefined)
    await waitFor('the first child to apply 1000 events', () => {
      if (!first.running) throw new Error(`The consumer process exited: ${first.stderr}`)
      return (first.last?.applied ?? 0) >= 1_000
    })
    await first.kill()
    const appliedBeforeKill = first.last?.applied ?? 0
    expect(appliedBeforeKill).toBeGreaterThanOrEqual(1_000)
    await world.produce(events.slice(events.length / 2))
    // kafkajs commits the resolved offsets after every batch it handed over, whatever the commit
    // interval, so a kill between two batches leaves Kafka level with Redis. Rewind the group
    // (once the dead member's session expired) so the restart is handed everything again and the
    // skip is exercised on every run, not only when the kill landed inside a batch.
    await waitFor('the dead member to leave the group', async () => {
      await world!.admin.resetOffsets({ groupId: group, topic: world!.topic, earliest: true })
      return true
    })

    const second = new Child(world, group)
    children.push(second)
    await world.waitCaughtUp()
    await expectTruth(world, events)
    // The second process was handed the records Redis had already applied, and skipped them
    // (counted before its chunks of the second half were applied and reported).
    await waitFor('the second child to report', () => second.last !== undefined)
    expect(second.last?.duplicates ?? 0).toBeGreaterThan(0)
  })

  it('two consumers rebalancing while events flow', async () => {
    world = await new World(4).init()
    const events = generateEvents(2_000, 23)
    const a = world.consumer()
    await a.start()
    const b = world.consumer()
    let step = 0
    await flow(world, events, 8, async () => {
      step++
      if (step === 2) await b.start()
      if (step === 5) await a.stop()
      await waitFor('some progress', async () => (await world?.lag()) !== undefined)
    })
    await world.waitCaughtUp()
    await expectTruth(world, events)
    expect(a.stats().applied + b.stats().applied).toBeGreaterThanOrEqual(events.length)
    expect(b.stats().applied).toBeGreaterThan(0)
  })

  it('a script time budget cuts smaller chunks: exact totals, server time reported', async () => {
    world = await new World(2).init()
    const events = generateEvents(600, 61)
    await world.produce(events)
    // 1 us: below any script's server time, so every chunk after the first holds one record.
    const consumer = world.consumer(undefined, { batchSize: 100, scriptBudget: '0.001ms' })
    let serverMs = 0
    consumer.on('applied', (event: AppliedEvent) => {
      serverMs += event.serverMs
    })
    await consumer.start()
    await world.waitCaughtUp()
    await expectTruth(world, events)
    const stats = consumer.stats()
    expect(stats.chunkSize).toBe(1)
    // Fixed chunks of 100 would take at most 6 + 2 scripts (two partitions).
    expect(stats.chunks).toBeGreaterThan(events.length / 2)
    expect(serverMs).toBeGreaterThan(0)
    expect(stats.scriptServerMsTotal).toBeCloseTo(serverMs, 6)
  })

  it('duplicate delivery (a new consumer group re-reads the topic from the start) changes nothing', async () => {
    world = await new World(3).init()
    const events = generateEvents(800, 31)
    await world.produce(events)
    const first = world.consumer(`${world.namespace}-one`)
    await first.start()
    await world.waitCaughtUp()
    await first.stop()
    const replay = world.consumer(`${world.namespace}-two`)
    await replay.start()
    // The new group starts at offset 0, Redis is at the end: the member skips the first batch of
    // each partition and seeks forward to Redis's offset, which kafkajs then commits.
    const highs = await world.admin.fetchTopicOffsets(world.topic)
    await waitFor('the new group to be committed at the end of every partition', async () => {
      const [committed] = await world!.admin.fetchOffsets({
        groupId: `${world!.namespace}-two`,
        topics: [world!.topic],
      })
      return highs.every(
        ({ partition, high }) =>
          committed?.partitions.find((p) => p.partition === partition)?.offset === high,
      )
    })
    await expectTruth(world, events)
    expect(replay.stats().applied).toBe(0)
    expect(replay.stats().duplicates).toBeGreaterThan(0)
  })

  it('Redis frozen mid-stream: scripts time out and retry, totals exact after the thaw', async () => {
    const redis = await startPrivateRedis()
    try {
      world = await new World(2, redis.url).init()
      const events = generateEvents(1_200, 41)
      const consumer = world.consumer(undefined, {
        scriptTimeout: '300ms',
        retryDelay: '50ms',
        maxRetryDelay: '200ms',
      })
      await consumer.start()
      await world.produce(events.slice(0, 400))
      await waitFor('some events applied', () => consumer.stats().applied > 0)
      redis.freeze()
      await world.produce(events.slice(400))
      await waitFor('retries while Redis is frozen', () => consumer.stats().retries >= 2)
      redis.thaw()
      await world.waitCaughtUp()
      await expectTruth(world, events)
    } finally {
      redis.thaw()
      await world?.dispose()
      world = undefined
      await redis.dispose()
    }
  })

  it('Redis restarted empty: the consumer notices the lost state and replays the topic from Kafka', async () => {
    const redis = await startPrivateRedis()
    try {
      world = await new World(2, redis.url).init()
      const events = generateEvents(600, 53)
      const consumer = world.consumer()
      await consumer.start()
      await world.produce(events.slice(0, 300))
      await world.waitCaughtUp()
      await redis.stop()
      await redis.start()
      await world.produce(events.slice(300))
      await world.waitCaughtUp()
      await expectTruth(world, events)
      // The state was created at the start and again after the loss (see redis-loss.test.ts).
      expect(consumer.stats().rebuilds).toBe(2)
    } finally {
      await world?.dispose()
      world = undefined
      await redis.dispose()
    }
  })
})
