import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually, Fixture } from '../../helpers/fixture.js'

describe('the bus keeps L1s coherent', () => {
  const fx = new Fixture()
  afterEach(() => fx.closeCaches())
  afterAll(() => fx.dispose())

  it("a tag invalidated on A is gone from B's L1, and B never re-reads Redis to learn it", async () => {
    const ns = fx.namespace()
    const a = fx.cache({ namespace: ns })
    const b = fx.cache({ namespace: ns, tagTrust: '1h', l1Ttl: '1h' })
    expect(await eventually(() => a.busConnected && b.busConnected)).toBe(true)
    await b.set('invoice:42', { total: 1 }, { tags: ['client:7'] })
    await b.set('invoice:43', { total: 2 }, { tags: ['client:8'] })
    expect(await b.get('invoice:42')).toEqual({ total: 1 })
    await a.invalidateTags(['client:7'])
    expect(await eventually(async () => (await b.get('invoice:42')) === undefined)).toBe(true)
    const l2Hits = b.stats().l2Hits
    expect(await b.get('invoice:43')).toEqual({ total: 2 }) // untouched, from L1
    expect(b.stats().l2Hits).toBe(l2Hits)
    // Each instance counts only the other's messages: B's two `set`s reached A, A's invalidation B.
    expect(a.stats()).toMatchObject({ busOut: 1, busIn: 2 })
    expect(b.stats()).toMatchObject({ busOut: 2, busIn: 1 })
  })

  it("set and delete on A drop the key from B's L1", async () => {
    const ns = fx.namespace()
    const a = fx.cache({ namespace: ns })
    const b = fx.cache({ namespace: ns, l1Ttl: '1h' })
    expect(await eventually(() => a.busConnected && b.busConnected)).toBe(true)
    await a.set('k', 'v1')
    expect(await b.get('k')).toBe('v1')
    await a.set('k', 'v2')
    expect(await eventually(async () => (await b.get('k')) === 'v2')).toBe(true)
    await a.delete('k')
    expect(await eventually(async () => (await b.get('k')) === undefined)).toBe(true)
  })

  it('messages carry invalidations, never values', async () => {
    const ns = fx.namespace()
    const a = fx.cache({ namespace: ns })
    const spy = fx.cache({ namespace: ns })
    expect(await eventually(() => a.busConnected && spy.busConnected)).toBe(true)
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel')
    const seen: string[] = []
    const listener = (event: unknown) => {
      const e = event as { namespace: string; direction: string; message: unknown }
      if (e.namespace === ns && e.direction === 'in') seen.push(JSON.stringify(e.message))
    }
    subscribe('ayala:cache:bus', listener)
    try {
      await a.set('secret', 'the value itself', { tags: ['t'] })
      await a.invalidateTags(['t'])
      expect(await eventually(() => seen.length >= 2)).toBe(true)
      expect(seen.join('')).not.toContain('the value itself')
    } finally {
      unsubscribe('ayala:cache:bus', listener)
    }
  })
})
