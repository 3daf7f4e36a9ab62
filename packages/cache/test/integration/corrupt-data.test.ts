import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Fixture } from './helpers.js'

describe('corrupt or foreign bytes in Redis', () => {
  const fx = new Fixture()
  afterEach(() => fx.closeCaches())
  afterAll(() => fx.dispose())

  it.each([
    ['plain text', Buffer.from('hello')],
    ['empty', Buffer.alloc(0)],
    ['our magic, unknown format', Buffer.from([0xac, 99, 0, 0, 1])],
    ['truncated header', Buffer.from([0xac, 1, 0, 3, 0, 200, 1])],
    ['valid header, garbage body', Buffer.from([0xac, 1, 0, 0, 0xc1, 0xc1])],
    ['JSON from another library', Buffer.from('{"value":1,"expires":0}')],
  ])('%s reads as a miss and emits an event, never a crash', async (_name, bytes) => {
    const ns = fx.namespace()
    const cache = fx.cache({ namespace: ns })
    await fx.admin.set(`{${ns}}:e:k`, bytes)
    const events: unknown[] = []
    const listener = (event: unknown) => {
      if ((event as { namespace: string }).namespace === ns) events.push(event)
    }
    subscribe('ayala:cache:corrupt', listener)
    try {
      expect(await cache.get('k')).toBeUndefined()
      expect(await cache.getMany(['k'])).toEqual([undefined])
      expect(await cache.getOrSet('k', async () => 'repaired')).toBe('repaired')
      const other = fx.cache({ namespace: ns })
      expect(await other.get('k')).toBe('repaired')
    } finally {
      unsubscribe('ayala:cache:corrupt', listener)
    }
    expect(events.length).toBeGreaterThanOrEqual(1)
    expect(events[0]).toMatchObject({ key: 'k', error: { code: 'E_CACHE_CORRUPT_ENTRY', key: 'k' } })
  })
})
