import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createDashboard,
  currentGeneration,
  dropGeneration,
  kafkaSource,
  MetricsStreamError,
  type Source,
  startRebuild,
} from '../../src/index.js'
import { FAST_GROUP, World } from '../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  invoiceView,
  READ_RANGE,
} from '../helpers/invoices.js'

describe('rebuild on real Kafka and Redis', () => {
  let world: World | undefined
  afterEach(async () => {
    await world?.dispose()
    world = undefined
  })

  it('rebuild: replays into a new generation, then switches readers atomically with rising versions', async () => {
    world = await new World(2).init()
    const events = generateEvents(400, 83)
    const live = world.consumer()
    await live.start()
    await world.produce(events)
    await world.waitCaughtUp()
    const dashboard = createDashboard({ redis: world.redis, namespace: world.namespace, view: invoiceView })
    const before = await dashboard.read(READ_RANGE)
    expect(before.generation).toBe(1)

    const rebuild = await startRebuild<InvoiceEvent>({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
      source: kafkaSource({
        kafka: world.kafka,
        groupId: `${world.namespace}-rebuild`,
        topics: [world.topic],
        consumer: FAST_GROUP,
      }),
    })
    expect(rebuild.generation).toBe(2)
    await expect(rebuild.promote({ maxLag: -1 })).rejects.toSatisfy(
      (error) => error instanceof MetricsStreamError && error.code === 'E_STREAM_NOT_CAUGHT_UP',
    )
    await world.waitCaughtUp(2)
    await rebuild.promote()
    await rebuild.consumer.stop()
    expect(await currentGeneration(world.redis, world.namespace, invoiceView.name)).toBe(2)
    const after = await dashboard.read(READ_RANGE)
    expect(after.generation).toBe(2)
    expect(after.version).toBeGreaterThan(before.version)
    expect(asTruth(after.figures)).toEqual(groundTruth(events))
    expect(await world.stateCounter('applied', 2)).toBe(events.length)
    expect(await dropGeneration(world.redis, world.namespace, invoiceView.name, 1)).toBeGreaterThan(0)
    await expect(dropGeneration(world.redis, world.namespace, invoiceView.name, 2)).rejects.toThrow(
      MetricsStreamError,
    )
    await dashboard.close()
  })
})

describe('rebuild options on real Redis (a source with nothing to replay)', () => {
  it('promote refuses an unknown option by name and promotes nothing; then promotes', async () => {
    const redis = new Redis(serviceUrls().redis)
    const namespace = uniqueName('ms')
    const source: Source = {
      topics: ['empty'],
      start: async () => undefined,
      isAssigned: () => true,
      send: async () => undefined,
      highWatermarks: async () => [],
      stop: async () => undefined,
    }
    try {
      const rebuild = await startRebuild<InvoiceEvent>({
        redis,
        namespace,
        view: invoiceView,
        source,
        batchSize: 10,
      })
      expect(rebuild.generation).toBe(2)
      await expect(rebuild.promote({ maxlag: 0 } as never)).rejects.toSatisfy(
        (error) =>
          error instanceof MetricsStreamError &&
          error.code === 'E_STREAM_INVALID_OPTION' &&
          error.message.includes('promote: unknown option "maxlag"'),
      )
      expect(await currentGeneration(redis, namespace, invoiceView.name)).toBe(1)
      await rebuild.promote({ maxLag: 0 })
      expect(await currentGeneration(redis, namespace, invoiceView.name)).toBe(2)
      await rebuild.consumer.stop()
    } finally {
      const keys = await redis.keys(`{${namespace}*`)
      if (keys.length > 0) await redis.unlink(...keys)
      redis.disconnect()
    }
  })
})
