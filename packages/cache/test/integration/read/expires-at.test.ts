/**
 * `expiresAt(key)`: the entry's own freshness, read from Redis (an L1 record's is capped by
 * `l1Ttl`, so L1 never answers it when there is L2), equal on every instance; `undefined` for a
 * missing, deleted, tag-invalidated or expired entry, and L1 only from the record.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createCache } from '../../../src/index.js'
import { Fixture, sleep } from '../../helpers/fixture.js'

describe('expiresAt', () => {
  const fx = new Fixture()
  afterEach(() => fx.closeCaches())
  afterAll(() => fx.dispose())

  it('is the entry freshness from Redis, seen by another instance, past the L1 TTL', async () => {
    const ns = fx.namespace()
    const writer = fx.cache({ namespace: ns, l1Ttl: '1s' })
    const reader = fx.cache({ namespace: ns })
    const before = Date.now()
    await writer.set('a', { n: 1 }, { ttl: '10m', tags: ['t'] })
    const after = Date.now()
    for (const cache of [writer, reader]) {
      const at = (await cache.expiresAt('a')) as number
      expect(at).toBeGreaterThanOrEqual(before + 600_000)
      expect(at).toBeLessThanOrEqual(after + 600_000)
    }
    expect(await writer.expiresAt('missing')).toBeUndefined()
    await writer.invalidateTags(['t'])
    expect(await reader.expiresAt('a')).toBeUndefined()
    await writer.set('b', 1, { ttl: 150 })
    expect(await reader.expiresAt('b')).toBeTypeOf('number')
    await sleep(200)
    expect(await reader.expiresAt('b')).toBeUndefined()
    await writer.set('c', 1)
    await reader.delete('c')
    expect(await writer.expiresAt('c')).toBeUndefined()
  })

  it('L1 only: the record, until it expires', async () => {
    const cache = createCache({ namespace: fx.namespace() })
    const before = Date.now()
    await cache.set('a', 1, { ttl: 150 })
    const at = (await cache.expiresAt('a')) as number
    expect(at - before).toBeGreaterThanOrEqual(150)
    expect(at - before).toBeLessThan(1_000)
    await sleep(200)
    expect(await cache.expiresAt('a')).toBeUndefined()
    await cache.close()
  })
})
