import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../../src/index.js'
import { deferred, eventually, Fixture } from '../../helpers/fixture.js'

describe('per-call refresh and bypass (getOrSet, getOrSetMany)', () => {
  const fx = new Fixture()
  afterEach(() => fx.closeCaches())
  afterAll(() => fx.dispose())

  it('refresh: true skips both tiers, runs the loader and overwrites the entry everywhere', async () => {
    const ns = fx.namespace()
    const a = fx.cache({ namespace: ns })
    const b = fx.cache({ namespace: ns })
    let db = 'v1'
    let calls = 0
    const loader = async () => {
      calls++
      return db
    }
    expect(await a.getOrSet('k', loader, { tags: ['t'] })).toBe('v1')
    expect(await b.getOrSet('k', loader, { tags: ['t'] })).toBe('v1') // b holds v1 in L1 now
    db = 'v2'
    expect(await a.getOrSet('k', loader, { tags: ['t'], refresh: true })).toBe('v2')
    expect(calls).toBe(2)
    expect(await a.getOrSet('k', loader, { tags: ['t'] })).toBe('v2') // L1 overwritten
    // b drops its L1 copy on the bus message and reads the new entry from L2.
    expect(await eventually(async () => (await b.get('k')) === 'v2')).toBe(true)
    expect(await b.getOrSet('k', loader, { tags: ['t'] })).toBe('v2')
    expect(calls).toBe(2)
    expect(a.stats().misses).toBe(1) // the refresh is a loader run, not a miss
  })

  it('concurrent refreshes (and plain callers arriving meanwhile) share one loader run', async () => {
    const cache = fx.cache()
    await cache.set('k', 'old')
    await cache.expire('k') // L1 and L2 copies stale: a plain caller goes to the miss path
    const release = deferred()
    let calls = 0
    const loader = async () => {
      calls++
      await release.promise
      return 'new'
    }
    const refreshes = Array.from({ length: 10 }, () => cache.getOrSet('k', loader, { refresh: true }))
    // A plain caller arriving during the refresh joins it.
    const plain = cache.getOrSet('k', loader)
    release.resolve()
    expect(await Promise.all(refreshes)).toEqual(Array(10).fill('new'))
    expect(await plain).toBe('new')
    expect(calls).toBe(1)
    expect(cache.stats().coalesced).toBe(10)
  })

  it('refresh racing an invalidation does not store the stale value (refill race)', async () => {
    const ns = fx.namespace()
    const reader = fx.cache({ namespace: ns })
    const writer = fx.cache({ namespace: ns })
    let db = 'v1'
    let calls = 0
    const plain = async () => {
      calls++
      return db
    }
    expect(await reader.getOrSet('invoice:1', plain, { tags: ['invoice:1'] })).toBe('v1')
    const loaderStarted = deferred()
    const release = deferred()
    const racing = async () => {
      calls++
      const read = db // reads v1
      loaderStarted.resolve()
      await release.promise
      return read
    }
    const pending = reader.getOrSet('invoice:1', racing, { tags: ['invoice:1'], refresh: true })
    await loaderStarted.promise
    db = 'v2' // the writer commits...
    await writer.invalidateTags(['invoice:1']) // ...and invalidates while the refresh loads
    release.resolve()
    expect(await pending).toBe('v1') // the refresh caller gets what its loader read
    expect(calls).toBe(2)
    // v1 was stored with the versions read before the loader ran: stale at once, in both tiers.
    const third = fx.cache({ namespace: ns }) // empty L1: reads L2 only
    expect(await third.getOrSet('invoice:1', plain, { tags: ['invoice:1'] })).toBe('v2')
    expect(calls).toBe(3)
    expect(await reader.getOrSet('invoice:1', plain, { tags: ['invoice:1'] })).toBe('v2')
    expect(await writer.get('invoice:1')).toBe('v2')
    expect(calls).toBe(3)
  })

  it('refresh racing an invalidation on the same instance does not keep the stale value in L1', async () => {
    const cache = fx.cache()
    let db = 'v1'
    let calls = 0
    const racing = async () => {
      calls++
      const read = db
      db = 'v2'
      await cache.invalidateTags(['t'])
      return read
    }
    expect(await cache.getOrSet('k', racing, { tags: ['t'], refresh: true })).toBe('v1')
    const plain = async () => {
      calls++
      return db
    }
    expect(await cache.getOrSet('k', plain, { tags: ['t'] })).toBe('v2')
    expect(calls).toBe(2)
  })

  it('getOrSetMany refresh: one batch loader call for every key, written back, coalesced with single-key refreshes', async () => {
    const ns = fx.namespace()
    const a = fx.cache({ namespace: ns })
    const b = fx.cache({ namespace: ns })
    await a.getOrSetMany(['x', 'y', 'z'], (keys) => keys.map((k) => `${k}1`))
    const release = deferred()
    let batches = 0
    let singles = 0
    const single = a.getOrSet(
      'x',
      async () => {
        singles++
        await release.promise
        return 'x-single'
      },
      { refresh: true },
    )
    const batch = a.getOrSetMany(
      ['x', 'y', 'z'],
      async (keys) => {
        batches++
        expect(keys).toEqual(['y', 'z']) // x is already being refreshed
        return new Map(keys.map((k) => [k, `${k}2`]))
      },
      { refresh: true },
    )
    release.resolve()
    expect(await batch).toEqual(['x-single', 'y2', 'z2'])
    expect(await single).toBe('x-single')
    expect([batches, singles]).toEqual([1, 1])
    let loads = 0
    expect(await b.getOrSetMany(['x', 'y', 'z'], (keys) => keys.map(() => String(++loads)))).toEqual([
      'x-single',
      'y2',
      'z2',
    ])
    expect(loads).toBe(0)
  })

  it('getOrSetMany refresh racing an invalidation stores its values stale', async () => {
    const ns = fx.namespace()
    const reader = fx.cache({ namespace: ns })
    const writer = fx.cache({ namespace: ns })
    await reader.getOrSetMany(['p', 'q'], (keys) => keys.map(() => 'v1'), { tags: (k) => [`row:${k}`] })
    const result = await reader.getOrSetMany(
      ['p', 'q'],
      async (keys) => {
        await writer.invalidateTags(['row:p'])
        return keys.map(() => 'v1-again')
      },
      { tags: (k) => [`row:${k}`], refresh: true },
    )
    expect(result).toEqual(['v1-again', 'v1-again'])
    let loads = 0
    const third = fx.cache({ namespace: ns })
    expect(
      await third.getOrSetMany(['p', 'q'], (keys) => keys.map(() => `v2:${++loads}`), {
        tags: (k) => [`row:${k}`],
      }),
    ).toEqual(['v2:1', 'v1-again']) // p was invalidated during the refresh; q was not
    expect(loads).toBe(1)
  })

  it('bypass: true runs the loader and neither reads nor writes the cache', async () => {
    const ns = fx.namespace()
    const a = fx.cache({ namespace: ns })
    await a.set('k', 'cached')
    let calls = 0
    expect(
      await a.getOrSet(
        'k',
        async ({ signal }) => {
          calls++
          expect(signal.aborted).toBe(false)
          return 'live'
        },
        { bypass: true },
      ),
    ).toBe('live')
    expect(
      await a.getOrSetMany(['k', 'm'], (keys) => keys.map((k) => `live-${k}`), { bypass: true }),
    ).toEqual(['live-k', 'live-m'])
    expect(await a.get('k')).toBe('cached')
    expect(await fx.cache({ namespace: ns }).get('k')).toBe('cached')
    expect(await a.get('m')).toBeUndefined()
    expect(calls).toBe(1)
    expect(a.stats().loaderCalls).toBe(2)
  })

  it('with lease, a refresh does not wait for another process holding the lease', async () => {
    const ns = fx.namespace()
    const holder = fx.cache({ namespace: ns, lease: true, leaseWaitTimeout: '10m' })
    const refresher = fx.cache({ namespace: ns, lease: true, leaseWaitTimeout: '10m' })
    const release = deferred()
    const started = deferred()
    const held = holder.getOrSet('k', async () => {
      started.resolve()
      await release.promise
      return 'held'
    })
    await started.promise
    let calls = 0
    // The holder's lease is still held: a refresh runs its loader at once (it would wait 10m otherwise).
    expect(await refresher.getOrSet('k', async () => `refreshed ${++calls}`, { refresh: true })).toBe(
      'refreshed 1',
    )
    expect(refresher.stats().leaseWaits).toBe(0)
    release.resolve()
    expect(await held).toBe('held')
  })

  it('refresh and bypass together are rejected, naming bypass', async () => {
    const cache = fx.cache()
    await expect(cache.getOrSet('k', () => 1, { refresh: true, bypass: true })).rejects.toThrow(
      InvalidOptionError,
    )
    await expect(cache.getOrSetMany(['k'], () => [1], { refresh: true, bypass: true })).rejects.toMatchObject(
      { option: 'bypass' },
    )
  })

  it('refresh without Redis overwrites L1', async () => {
    const { createCache } = await import('../../../src/index.js')
    const cache = createCache({})
    await cache.set('k', 1)
    expect(await cache.getOrSet('k', () => 2, { refresh: true })).toBe(2)
    expect(await cache.get('k')).toBe(2)
    await cache.close()
  })
})
