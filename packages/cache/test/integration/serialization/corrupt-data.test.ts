import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { Packr } from 'msgpackr'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Fixture } from '../../helpers/fixture.js'

/** An entry as format 1 wrote it: header, then [createdAt, freshUntil, staleUntil, versions, flags, value] as msgpackr records. */
function formatOne(tags: string[], value: unknown): Buffer {
  const now = Date.now()
  const packr = new Packr({ moreTypes: true, useRecords: true, mapsAsObjects: false })
  const header = [Buffer.from([0xac, 1, 0, tags.length])]
  for (const tag of tags) header.push(Buffer.from([0, tag.length]), Buffer.from(tag))
  const versions = [0, ...tags.map(() => 0)]
  return Buffer.concat([...header, packr.pack([now, now + 600_000, now + 600_000, versions, 0, value])])
}

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
    ['an entry in envelope format 1 (earlier releases)', formatOne([], { invoice: 42 })],
    ['a tagged entry in envelope format 1', formatOne(['t:client:7'], new Map([['line', 1]]))],
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
