import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { CacheError } from '../../src/index.js'
import { eventually, Fixture, sleep } from '../helpers/fixture.js'

describe('createCache with Redis: the fixed API', () => {
  const fx = new Fixture()
  afterEach(() => fx.closeCaches())
  afterAll(() => fx.dispose())

  it('getOrSet loads once, then serves L1; a second instance reads L2', async () => {
    const ns = fx.namespace()
    const a = fx.cache({ namespace: ns })
    const b = fx.cache({ namespace: ns })
    let calls = 0
    const loader = async () => {
      calls++
      return { id: 42, total: 1999 }
    }
    expect(await a.getOrSet('invoice:42', loader, { ttl: '10m', tags: ['invoice:42', 'client:7'] })).toEqual({
      id: 42,
      total: 1999,
    })
    expect(await a.getOrSet('invoice:42', loader)).toEqual({ id: 42, total: 1999 })
    expect(await b.getOrSet('invoice:42', loader)).toEqual({ id: 42, total: 1999 })
    expect(calls).toBe(1)
    expect(a.stats().l1Hits).toBe(1)
    expect(b.stats().l2Hits).toBe(1)
  })

  it('get returns undefined on a miss; set, has and delete work across instances', async () => {
    const ns = fx.namespace()
    const a = fx.cache({ namespace: ns })
    const b = fx.cache({ namespace: ns })
    expect(await a.get('missing')).toBeUndefined()
    expect(await a.has('missing')).toBe(false)
    await a.set('k', [1, 2, 3])
    expect(await b.get('k')).toEqual([1, 2, 3])
    expect(await b.has('k')).toBe(true)
    await a.delete('k')
    expect(await a.get('k')).toBeUndefined()
  })

  it('keeps the prefix once and the namespace as the hash tag', async () => {
    const ns = fx.namespace()
    const a = fx.cache({ namespace: ns, prefix: 'app:' })
    await a.set('k', 1, { tags: ['t'] })
    await a.invalidateTags(['t'])
    const keys = (await fx.admin.keys(`*{${ns}}*`)).sort()
    expect(keys).toEqual([`app:{${ns}}:e:k`, `app:{${ns}}:t:t`])
  })

  it('keys and tags with any characters are distinct and safe', async () => {
    const a = fx.cache()
    const weird = ['a b', 'ключ', '{x}', 'e:k', '\u0000\n\r*?', '\ud800', '\udc00', '\ud800\udc00', '😀']
    for (const [i, key] of weird.entries()) await a.set(key, i, { tags: [key] })
    const b = fx.cache({ namespace: a.options.namespace })
    for (const [i, key] of weird.entries()) expect(await b.get(key)).toBe(i)
    await a.invalidateTags(['\ud800'])
    expect(await eventually(async () => (await b.get('\ud800')) === undefined)).toBe(true)
    expect(await b.get('\udc00')).toBe(6)
  })

  it('caches undefined and null loader results for negativeTtl', async () => {
    const a = fx.cache({ negativeTtl: '5s' })
    let calls = 0
    const loader = async () => {
      calls++
      return null
    }
    expect(await a.getOrSet('none', loader)).toBeNull()
    expect(await a.getOrSet('none', loader)).toBeNull()
    expect(calls).toBe(1)
    const b = fx.cache({ namespace: a.options.namespace })
    expect(await b.getOrSet('none', loader)).toBeNull()
    expect(calls).toBe(1)
    expect(await b.getOrSet('undef', async () => undefined)).toBeUndefined()
    expect(await b.has('undef')).toBe(true)
    const pttl = await fx.admin.pttl(`{${a.options.namespace}}:e:none`)
    expect(pttl).toBeGreaterThan(0)
    expect(pttl).toBeLessThanOrEqual(5_000)
    const off = fx.cache({ negativeTtl: false })
    await off.getOrSet('none', loader)
    await off.getOrSet('none', loader)
    expect(calls).toBe(3)
  })

  it('applies separate L1 and L2 TTLs and jitter', async () => {
    const a = fx.cache({ ttl: '10m', l1Ttl: '100ms', jitter: 0.5 })
    await a.set('k', 'v')
    const pttl = await fx.admin.pttl(`{${a.options.namespace}}:e:k`)
    expect(pttl).toBeGreaterThan(300_000 - 1_000)
    expect(pttl).toBeLessThanOrEqual(600_000)
    expect(await a.get('k')).toBe('v')
    const l2HitsBefore = a.stats().l2Hits
    await sleep(150)
    // Past the L1 TTL the value comes from L2 again (L2 keeps it for minutes).
    expect(await a.get('k')).toBe('v')
    expect(a.stats().l2Hits).toBe(l2HitsBefore + 1)
  })

  it('getOrSetMany: one batch loader call for the misses, then everything from cache', async () => {
    const a = fx.cache()
    await a.set('n:1', 'one')
    const seen: string[][] = []
    const load = async (keys: string[]) => {
      seen.push(keys)
      return new Map(keys.map((k) => [k, k.toUpperCase()]))
    }
    expect(await a.getOrSetMany(['n:1', 'n:2', 'n:3'], load, { tags: (k) => [k] })).toEqual([
      'one',
      'N:2',
      'N:3',
    ])
    expect(seen).toEqual([['n:2', 'n:3']])
    const b = fx.cache({ namespace: a.options.namespace })
    expect(await b.getOrSetMany(['n:1', 'n:2', 'n:3'], load)).toEqual(['one', 'N:2', 'N:3'])
    expect(seen).toHaveLength(1)
    await a.invalidateTags(['n:2'])
    expect(await a.getMany(['n:1', 'n:2', 'n:3'])).toEqual(['one', undefined, 'N:3'])
    // b learns of the invalidation through the bus.
    expect(await eventually(async () => (await b.getMany(['n:2']))[0] === undefined)).toBe(true)
    expect(await b.getMany(['n:1', 'n:2', 'n:3'])).toEqual(['one', undefined, 'N:3'])
  })

  it('expire keeps the value as a grace fallback; delete does not', async () => {
    const a = fx.cache({ grace: '1m' })
    await a.set('k', 'old')
    await a.expire('k')
    expect(await a.get('k')).toBeUndefined()
    const failing = async (): Promise<string> => {
      throw new Error('database down')
    }
    expect(await a.getOrSet('k', failing)).toBe('old')
    const b = fx.cache({ namespace: a.options.namespace, grace: '1m' })
    expect(await b.getOrSet('k', failing)).toBe('old')
    await a.delete('k')
    await expect(b.getOrSet('k', failing)).rejects.toThrow('database down')
  })

  it('expireTags keeps tagged entries as a fallback; invalidateTags drops them', async () => {
    const a = fx.cache({ grace: '1m' })
    await a.set('x', 1, { tags: ['t'] })
    await a.expireTags(['t'])
    const failing = async (): Promise<number> => {
      throw new Error('down')
    }
    expect(await a.get('x')).toBeUndefined()
    expect(await a.getOrSet('x', failing)).toBe(1)
    expect(await a.getOrSet('x', async () => 2, { tags: ['t'] })).toBe(2)
    await a.invalidateTags(['t'])
    await expect(a.getOrSet('x', failing)).rejects.toThrow('down')
  })

  it('clear invalidates the whole namespace for every instance, in O(1)', async () => {
    const ns = fx.namespace()
    const a = fx.cache({ namespace: ns })
    const b = fx.cache({ namespace: ns, bus: false })
    await a.set('k1', 1)
    await a.set('k2', 2)
    expect(await b.get('k1')).toBe(1)
    await a.clear()
    expect(await a.get('k1')).toBeUndefined()
    const fresh = fx.cache({ namespace: ns })
    expect(await fresh.getMany(['k1', 'k2'])).toEqual([undefined, undefined])
    await a.set('k1', 'new')
    expect(await fresh.get('k1')).toBe('new')
  })

  it('rejects a value msgpack cannot encode with E_CACHE_SERIALIZATION', async () => {
    const a = fx.cache()
    const error = await a.set('fn', { s: Symbol('not data') }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CacheError)
    expect((error as CacheError).code).toBe('E_CACHE_SERIALIZATION')
    expect((error as CacheError).key).toBe('fn')
  })

  it('rejects calls after close with E_CACHE_CLOSED', async () => {
    const a = fx.cache()
    await a.close()
    await expect(a.get('k')).rejects.toMatchObject({ code: 'E_CACHE_CLOSED' })
  })
})
