/** The cache without Redis (L1 only): behaviour that needs no network. */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { describe, expect, it } from 'vitest'
import { CACHE_CHANNELS, createCache, LoaderTimeoutError } from '../../src/index.js'

function deferred<T = void>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('L1-only cache', () => {
  it('serves the fixed API from memory', async () => {
    const cache = createCache()
    expect(await cache.get('k')).toBeUndefined()
    await cache.set('k', 1)
    expect(await cache.get('k')).toBe(1)
    expect(await cache.has('k')).toBe(true)
    expect(await cache.getMany(['k', 'x'])).toEqual([1, undefined])
    expect(await cache.getOrSetMany(['k', 'x'], async (keys) => keys.map(() => 2))).toEqual([1, 2])
    await cache.delete('k')
    expect(await cache.get('k')).toBeUndefined()
    await cache.clear()
    expect(await cache.get('x')).toBeUndefined()
    expect(cache.stats().breaker).toBe('none')
    await cache.close()
  })

  it('invalidates by tag, including entries whose load straddled the invalidation', async () => {
    const cache = createCache()
    await cache.set('a', 1, { tags: ['t'] })
    await cache.set('b', 2, { tags: ['u'] })
    await cache.invalidateTags(['t'])
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, 2])
    const gate = deferred()
    const pending = cache.getOrSet(
      'c',
      async () => {
        await gate.promise
        return 'old'
      },
      { tags: ['t'] },
    )
    await cache.invalidateTags(['t'])
    gate.resolve()
    expect(await pending).toBe('old')
    expect(await cache.getOrSet('c', async () => 'new', { tags: ['t'] })).toBe('new')
  })

  it('a delete during a load keeps the loaded value out of the cache', async () => {
    const cache = createCache()
    const gate = deferred()
    const pending = cache.getOrSet('k', async () => {
      await gate.promise
      return 'before-delete'
    })
    await cache.delete('k')
    gate.resolve()
    expect(await pending).toBe('before-delete')
    expect(await cache.get('k')).toBeUndefined()
  })

  it('serves the stale value when the loader fails within grace, and rethrows without one', async () => {
    const cache = createCache({ ttl: '20ms', grace: '1h' })
    await cache.getOrSet('k', async () => 'v1')
    await sleep(40)
    const events: unknown[] = []
    const listener = (event: unknown) => events.push(event)
    subscribe(CACHE_CHANNELS.stale, listener)
    try {
      expect(
        await cache.getOrSet('k', async () => {
          throw new Error('db down')
        }),
      ).toBe('v1')
    } finally {
      unsubscribe(CACHE_CHANNELS.stale, listener)
    }
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ key: 'k', reason: 'loader-error' })
    await expect(
      cache.getOrSet('other', async () => {
        throw new Error('db down')
      }),
    ).rejects.toThrow('db down')
    expect(cache.stats()).toMatchObject({ staleServed: 1, loaderErrors: 2 })
  })

  it('soft timeout: serves stale at once and refreshes in the background', async () => {
    const cache = createCache({ ttl: '20ms', grace: '1h', softTimeout: '10ms' })
    await cache.getOrSet('k', async () => 'v1')
    await sleep(40)
    const gate = deferred<string>()
    let calls = 0
    const slow = async () => {
      calls++
      return gate.promise
    }
    expect(await cache.getOrSet('k', slow)).toBe('v1')
    expect(await cache.getOrSet('k', slow)).toBe('v1') // joins the running refresh
    expect(calls).toBe(1)
    gate.resolve('v2')
    await expect.poll(() => cache.get('k')).toBe('v2')
  })

  it('hard timeout: fails with E_CACHE_LOADER_TIMEOUT and aborts the loader, or serves stale', async () => {
    const cache = createCache({ hardTimeout: '20ms', grace: '1h', ttl: '20ms' })
    let signal: AbortSignal | undefined
    const error = await cache
      .getOrSet('k', (ctx) => {
        signal = ctx.signal
        return new Promise(() => undefined)
      })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoaderTimeoutError)
    expect((error as LoaderTimeoutError).code).toBe('E_CACHE_LOADER_TIMEOUT')
    expect((error as LoaderTimeoutError).key).toBe('k')
    expect(signal?.aborted).toBe(true)
    await cache.set('s', 'stale-one')
    await sleep(40)
    expect(await cache.getOrSet('s', () => new Promise(() => undefined))).toBe('stale-one')
  })

  it('caches negative results for negativeTtl', async () => {
    const cache = createCache({ negativeTtl: '1h' })
    let calls = 0
    const loader = async () => {
      calls++
      return undefined
    }
    await cache.getOrSet('none', loader)
    await cache.getOrSet('none', loader)
    expect(calls).toBe(1)
    const off = createCache({ negativeTtl: false })
    await off.getOrSet('none', loader)
    await off.getOrSet('none', loader)
    expect(calls).toBe(3)
  })

  it('bounds L1 by entries and by bytes', async () => {
    const byCount = createCache({ l1MaxEntries: 10 })
    for (let i = 0; i < 50; i++) await byCount.set(`k${i}`, i)
    expect(byCount.stats().l1Entries).toBe(10)
    const byBytes = createCache({ l1MaxBytes: 10_000 })
    for (let i = 0; i < 50; i++) await byBytes.set(`k${i}`, 'x'.repeat(1_000))
    expect(byBytes.stats().l1Bytes).toBeLessThanOrEqual(10_000)
    expect(byBytes.stats().l1Entries).toBeLessThan(10)
  })

  it('shares values by default; freeze and clone protect them', async () => {
    const shared = createCache()
    await shared.set('k', { n: 1 })
    expect(await shared.get('k')).toBe(await shared.get('k'))
    const frozen = createCache({ l1Values: 'freeze' })
    await frozen.set('k', { n: 1, inner: { m: 2 } })
    const value = (await frozen.get('k')) as { inner: { m: number } }
    expect(Object.isFrozen(value.inner)).toBe(true)
    const cloned = createCache({ l1Values: 'clone' })
    await cloned.set('k', { n: 1 })
    const a = (await cloned.get('k')) as { n: number }
    a.n = 2
    expect(await cloned.get('k')).toEqual({ n: 1 })
  })

  it('publishes hit and miss events only to subscribers, and counts them always', async () => {
    const cache = createCache({ namespace: 'events-test' })
    await cache.getOrSet('k', async () => 1)
    await cache.getOrSet('k', async () => 1)
    const hits: unknown[] = []
    const listener = (event: unknown) => hits.push(event)
    subscribe(CACHE_CHANNELS.hit, listener)
    try {
      await cache.getOrSet('k', async () => 1)
    } finally {
      unsubscribe(CACHE_CHANNELS.hit, listener)
    }
    expect(hits).toEqual([{ namespace: 'events-test', key: 'k', tier: 'l1' }])
    expect(cache.stats()).toMatchObject({ l1Hits: 2, misses: 1, loaderCalls: 1 })
  })

  it('refresh: a refresh straddling an invalidation is stale at once; a refresh of a batch too', async () => {
    const cache = createCache()
    await cache.set('a', 'v1', { tags: ['t'] })
    const gate = deferred()
    const pending = cache.getOrSet(
      'a',
      async () => {
        await gate.promise
        return 'read-before-the-write'
      },
      { tags: ['t'], refresh: true },
    )
    await cache.invalidateTags(['t'])
    gate.resolve()
    expect(await pending).toBe('read-before-the-write')
    let calls = 0
    expect(await cache.getOrSet('a', async () => `v${++calls + 1}`, { tags: ['t'] })).toBe('v2')
    expect(
      await cache.getOrSetMany(['a', 'b'], (keys) => keys.map((k) => `${k}!`), { refresh: true }),
    ).toEqual(['a!', 'b!'])
    expect(await cache.getMany(['a', 'b'])).toEqual(['a!', 'b!'])
    expect(calls).toBe(1)
  })

  it('bypass: the hard timeout applies and nothing is stored, whatever the outcome', async () => {
    const cache = createCache({ hardTimeout: '20ms' })
    await cache.set('k', 'cached')
    let signal: AbortSignal | undefined
    const error = await cache
      .getOrSet(
        'k',
        (ctx) => {
          signal = ctx.signal
          return new Promise(() => undefined)
        },
        { bypass: true },
      )
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoaderTimeoutError)
    expect(signal?.aborted).toBe(true)
    expect(await cache.getOrSet('k', () => 'live', { bypass: true })).toBe('live')
    expect(await cache.getOrSet('other', () => 'live', { bypass: true })).toBe('live')
    expect(await cache.get('k')).toBe('cached')
    expect(await cache.has('other')).toBe(false)
    expect(cache.stats()).toMatchObject({ loaderCalls: 3, misses: 1 }) // the miss is has('other')
  })
})
