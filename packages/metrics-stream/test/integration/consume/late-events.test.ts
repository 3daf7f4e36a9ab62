import { afterEach, describe, expect, it } from 'vitest'
import { createDashboard } from '../../../src/index.js'
import { World } from '../../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type InvoiceEvent,
  invoiceView,
  READ_RANGE,
} from '../../helpers/invoices.js'

describe('late events on real Kafka and Redis', () => {
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
})
