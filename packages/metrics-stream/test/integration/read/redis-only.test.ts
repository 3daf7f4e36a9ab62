import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createDashboard,
  MetricsStreamError,
  promoteGeneration,
  readDashboard,
  viewKeys,
} from '../../../src/index.js'
import { waitFor } from '../../helpers/harness.js'
import { invoiceView } from '../../helpers/invoices.js'

describe('dashboard and generations on real Redis (no Kafka)', () => {
  const redis = new Redis(serviceUrls().redis)
  const namespace = uniqueName('ms')

  afterAll(async () => {
    const keys = await redis.keys(`{${namespace}:*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })

  it('reads an empty view as zeros in one round trip, and refuses ranges over 1000 buckets', async () => {
    const dashboard = createDashboard({ redis, namespace, view: invoiceView, cache: false })
    const snapshot = await dashboard.read({ from: 0, to: 86_400_000 })
    expect(snapshot).toEqual({
      version: 0,
      generation: 1,
      figures: { invoices: 0, byStatus: {}, amountByStatus: {}, amountByDay: {}, topClients: [], clients: 0 },
      // No consumer ever created the view's state: zeros that are not the truth.
      status: 'missing',
      epoch: '',
      progress: undefined,
      reason: expect.objectContaining({ code: 'E_STREAM_STATE_MISSING' }),
      // Read from Redis now: not a stale answer.
      stale: false,
      ageMs: 0,
      staleReason: undefined,
    })
    await expect(dashboard.read({ from: 0, to: 2_000 * 86_400_000 })).rejects.toSatisfy(
      (error) => error instanceof MetricsStreamError && error.code === 'E_STREAM_INVALID_READ',
    )
    await dashboard.close()
    await expect(dashboard.read()).rejects.toSatisfy(
      (error) => error instanceof MetricsStreamError && error.code === 'E_STREAM_CLOSED',
    )
  })

  it('promotes with a compare-and-set and raises the version above the old generation', async () => {
    const g1 = viewKeys(namespace, invoiceView.name, 1)
    await redis.hset(g1.meta, 'version', '41')
    expect(await promoteGeneration(redis, namespace, invoiceView.name, 1, 2)).toBe(42)
    await expect(promoteGeneration(redis, namespace, invoiceView.name, 1, 3)).rejects.toSatisfy(
      (error) => error instanceof MetricsStreamError && error.code === 'E_STREAM_INVALID_OPTION',
    )
    const snapshot = await readDashboard({ redis, namespace, view: invoiceView })
    expect(snapshot.generation).toBe(2)
    expect(snapshot.version).toBe(42)
  })

  it('serves repeated reads from the in-process copy until a change notice empties it', async () => {
    const ns = uniqueName('ms')
    const keys = viewKeys(ns, invoiceView.name, 1)
    const dashboard = createDashboard({ redis, namespace: ns, view: invoiceView })
    try {
      await dashboard.read()
      expect(dashboard.stats().cachedRanges).toBe(0)
      await dashboard.ready()
      const first = await dashboard.read()
      expect(await dashboard.read()).toBe(first)
      expect(dashboard.stats()).toMatchObject({ subscribed: true, cachedRanges: 1, subscriberErrors: 0 })

      const seen: number[] = []
      await dashboard.onChange((notice) => seen.push(notice.version))
      await redis.hset(keys.meta, 'version', '1')
      await redis.publish(keys.channel, `1 1 t 0 0 ${Date.now()}`)
      await waitFor('the notice', () => seen.length === 1)
      expect(dashboard.stats().cachedRanges).toBe(0)
      const second = await dashboard.read()
      expect(second).not.toBe(first)
      expect(second.version).toBe(1)
    } finally {
      await dashboard.close()
      await redis.del(keys.meta)
    }
  })
})
