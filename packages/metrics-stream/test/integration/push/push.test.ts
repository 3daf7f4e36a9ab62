import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isDeepStrictEqual } from 'node:util'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type ChangeNotice,
  createDashboard,
  type DashboardUpdate,
  streamDashboard,
} from '../../../src/index.js'
import { urls, World, waitFor } from '../../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type invoiceAggregates,
  invoiceView,
  READ_RANGE,
} from '../../helpers/invoices.js'

describe('push on real Kafka and Redis', () => {
  let world: World | undefined
  afterEach(async () => {
    await world?.dispose()
    world = undefined
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
})
