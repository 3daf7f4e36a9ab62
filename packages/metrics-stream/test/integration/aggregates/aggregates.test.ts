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

describe('aggregates on real Kafka and Redis', () => {
  let world: World | undefined
  afterEach(async () => {
    await world?.dispose()
    world = undefined
  })

  it('an invoice created -> paid -> cancelled retracts its old contributions', async () => {
    world = await new World(2).init()
    const base: InvoiceEvent = {
      id: 'inv-1',
      type: 'created',
      status: 'open',
      amountCents: 12_345,
      clientId: 'acme',
      issuedAt: Date.UTC(2026, 10, 27, 10),
      at: Date.UTC(2026, 10, 27, 10),
    }
    const { id: _id, type: _type, at: _at, ...created } = base
    const paid: InvoiceEvent = { ...base, type: 'paid', status: 'paid', at: base.at + 1, previous: created }
    const { id: _i, type: _t, at: _a, previous: _p, ...paidState } = paid
    const cancelled: InvoiceEvent = {
      ...base,
      type: 'cancelled',
      status: 'cancelled',
      at: base.at + 2,
      previous: paidState,
    }
    const consumer = world.consumer()
    await consumer.start()
    const dashboard = createDashboard({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
      cache: false,
    })
    const day = { from: base.issuedAt, to: base.issuedAt }

    await world.produce([base])
    await world.waitCaughtUp()
    let { figures } = await dashboard.read(day)
    expect(figures.byStatus).toEqual({ open: 1 })
    expect(figures.amountByStatus).toEqual({ open: 12_345 })
    expect(figures.topClients).toEqual([{ member: 'acme', score: 12_345 }])

    await world.produce([paid])
    await world.waitCaughtUp()
    ;({ figures } = await dashboard.read(day))
    expect(figures.invoices).toBe(1)
    expect(figures.byStatus).toEqual({ paid: 1 })
    expect(figures.amountByStatus).toEqual({ paid: 12_345 })
    expect(figures.amountByDay).toEqual({ '2026-11-27': { paid: 12_345 } })

    await world.produce([cancelled])
    await world.waitCaughtUp()
    ;({ figures } = await dashboard.read(day))
    expect(figures).toEqual({
      invoices: 1,
      byStatus: { cancelled: 1 },
      amountByStatus: { cancelled: 12_345 },
      amountByDay: { '2026-11-27': { cancelled: 12_345 } },
      topClients: [],
      clients: 1,
    })
    await dashboard.close()
  })

  it('matches the ground truth with malformed messages interleaved, dead-lettered with headers', async () => {
    world = await new World(3).init()
    const events = generateEvents(300, 7)
    const bad = [
      '{not json',
      JSON.stringify({ id: 'x', status: 'weird' }),
      null,
      JSON.stringify({ ...events[0], amountCents: 1.5 }),
    ]
    const consumer = world.consumer()
    await consumer.start()
    await world.produce(events.slice(0, 200))
    await world.produceRaw(bad)
    await world.produce(events.slice(200))
    await world.waitCaughtUp()

    const dashboard = createDashboard({
      redis: world.redis,
      namespace: world.namespace,
      view: invoiceView,
      cache: false,
    })
    const snapshot = await dashboard.read(READ_RANGE)
    expect(asTruth(snapshot.figures)).toEqual(groundTruth(events))
    expect(await world.stateCounter('applied')).toBe(events.length)
    expect(await world.stateCounter('dead')).toBe(bad.length)
    expect(consumer.stats().deadLettered).toBe(bad.length)

    const dead = await world.readTopic(world.dlq, bad.length)
    expect(dead).toHaveLength(bad.length)
    expect(dead.map((d) => d.value).sort()).toEqual([...bad].sort())
    for (const record of dead) {
      expect(record.headers['x-source-topic']).toBe(world.topic)
      expect(Number(record.headers['x-source-offset'])).toBeGreaterThanOrEqual(0)
      expect(record.headers['x-source-partition']).toMatch(/^\d$/)
      expect(record.headers['x-error-code']).toBe('E_STREAM_INVALID_EVENT')
      expect(record.headers['x-error']).toBeTruthy()
    }
    await dashboard.close()
  })
})
