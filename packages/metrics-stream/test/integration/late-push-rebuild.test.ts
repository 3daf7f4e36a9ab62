import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isDeepStrictEqual } from 'node:util'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type ChangeNotice,
  createDashboard,
  currentGeneration,
  type DashboardUpdate,
  dropGeneration,
  kafkaSource,
  MetricsStreamError,
  startRebuild,
  streamDashboard,
} from '../../src/index.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  type invoiceAggregates,
  invoiceView,
  READ_RANGE,
} from '../invoices.js'
import { FAST_GROUP, urls, World, waitFor } from './harness.js'

describe('late events, push and rebuild on real Kafka and Redis', () => {
  let world: World | undefined
  afterEach(async () => {
    await world?.dispose()
    world = undefined
  })

  it('events beyond the allowed lateness go to the late topic and a counter, not into the figures', async () => {
    world = await new World(1).init()
    const events = generateEvents(50, 61)
    const lastAt = (events[events.length - 1] as InvoiceEvent).at
    // Two hours behind the watermark (lateness allowed: one hour), and one just inside it.
    const tooLate: InvoiceEvent = { ...(events[0] as InvoiceEvent), id: 'late-1', at: lastAt - 2 * 3_600_000 }
    const inTime: InvoiceEvent = { ...(events[0] as InvoiceEvent), id: 'late-2', at: lastAt - 30 * 60_000 }
    const consumer = world.consumer(undefined, { allowedLateness: '1h' })
    await consumer.start()
    await world.produce([...events, tooLate, inTime])
    await world.waitCaughtUp()
    const dashboard = createDashboard({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
      cache: false,
    })
    const { figures } = await dashboard.read(READ_RANGE)
    await dashboard.close()
    expect(asTruth(figures)).toEqual(groundTruth([...events, inTime]))
    expect(await world.stateCounter('late')).toBe(1)
    expect(consumer.stats().late).toBe(1)
    const late = await world.readTopic(world.late, 1)
    expect(JSON.parse(late[0]?.value ?? '{}').id).toBe('late-1')
    expect(late[0]?.headers['x-source-topic']).toBe(world.topic)
    expect(Number(late[0]?.headers['x-watermark'])).toBe(lastAt)
  })

  it('push: a versioned notice per chunk, cache served until a notice, subscribe and SSE deliver rising versions', async () => {
    world = await new World(2).init()
    const events = generateEvents(200, 71)
    const consumer = world.consumer()
    await consumer.start()
    await world.produce(events.slice(0, 100))
    await world.waitCaughtUp()

    const dashboard = createDashboard({ redis: world.redis, namespace: world.namespace, view: invoiceView })
    const notices: ChangeNotice[] = []
    await dashboard.onChange((notice) => notices.push(notice))
    const first = await dashboard.read(READ_RANGE)
    // Served from the in-process copy: the very same frozen snapshot, no Redis round trip.
    expect(await dashboard.read(READ_RANGE)).toBe(first)
    expect(Object.isFrozen(first.figures)).toBe(true)

    const controller = new AbortController()
    const updates: DashboardUpdate<typeof invoiceAggregates>[] = []
    const iterating = (async () => {
      for await (const update of dashboard.subscribe(READ_RANGE, { signal: controller.signal }))
        updates.push(update)
    })()

    const server = createServer((_req, res) => {
      void streamDashboard(dashboard, res, { params: READ_RANGE })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const reader = response.body?.getReader()
    let sse = ''
    const decoder = new TextDecoder()

    await world.produce(events.slice(100))
    await world.waitCaughtUp()
    const truth = groundTruth(events)
    await waitFor('the subscriber to see the final figures', () => {
      const last = updates[updates.length - 1]
      return last !== undefined && isDeepStrictEqual(asTruth(last.figures), truth)
    })
    const versions = updates.map((u) => u.version)
    expect(versions).toEqual([...versions].sort((x, y) => x - y))
    expect(new Set(versions).size).toBe(versions.length)

    const fresh = await dashboard.read(READ_RANGE)
    expect(fresh).not.toBe(first)
    expect(fresh.version).toBeGreaterThan(first.version)
    expect(asTruth(fresh.figures)).toEqual(truth)
    expect(notices.length).toBeGreaterThan(0)
    expect(notices[notices.length - 1]?.version).toBe(fresh.version)

    await waitFor('the SSE stream to carry the final version', async () => {
      const chunk = await reader?.read()
      sse += decoder.decode(chunk?.value ?? new Uint8Array())
      return sse.includes(`id: 1.${fresh.version}\n`)
    })
    expect(sse).toContain('event: figures\n')
    await reader?.cancel()
    controller.abort()
    await iterating
    server.close()
    await dashboard.close()
  })

  it('a subscriber whose connection is killed resynchronizes from a snapshot', async () => {
    world = await new World(2).init()
    const events = generateEvents(300, 79)
    const consumer = world.consumer()
    await consumer.start()
    await world.produce(events.slice(0, 100))
    await world.waitCaughtUp()
    const subscriber = new Redis(urls.redis)
    const id = await subscriber.client('ID')
    const dashboard = createDashboard({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
      subscriber,
    })
    const controller = new AbortController()
    const updates: DashboardUpdate<typeof invoiceAggregates>[] = []
    const iterating = (async () => {
      for await (const update of dashboard.subscribe(READ_RANGE, { signal: controller.signal }))
        updates.push(update)
    })()
    await waitFor('the first snapshot', () => updates.length > 0)
    await world.redis.client('KILL', 'ID', String(id))
    await world.produce(events.slice(100))
    await world.waitCaughtUp()
    const truth = groundTruth(events)
    await waitFor('the subscriber to resynchronize', () => {
      const last = updates[updates.length - 1]
      return last !== undefined && isDeepStrictEqual(asTruth(last.figures), truth)
    })
    controller.abort()
    await iterating
    await dashboard.close()
    subscriber.disconnect()
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
