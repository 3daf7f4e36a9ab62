/**
 * A caller that arrives after an invalidation returned must not join a load that started before
 * it (issue 16: the example's three instances on the clusters served 2 of ~500 reads at the
 * version before an acknowledged PATCH). The load that started first read the old row; its value
 * is stored stale (the refill race), but joiners got it as fresh: a read that began after the
 * write was acknowledged answered with what the write replaced.
 *
 * Each case holds a load of `invoice:1` open, commits v2 and invalidates (on this instance, or on
 * another one whose bus notice reaches this one), then starts a second read here: it must answer
 * v2 (old code: v1, joined to the first load).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { deferred, eventually, Fixture } from '../../helpers/fixture.js'

describe('a read after an invalidation does not join a load that started before it', () => {
  const fx = new Fixture()
  afterEach(() => fx.closeCaches())
  afterAll(() => fx.dispose())

  /** The table and a loader whose first call reads the row, then waits for `release`. */
  function source() {
    const row = { version: 1 }
    const release = deferred()
    const started = deferred()
    let calls = 0
    const load = async () => {
      calls++
      const read = { ...row }
      if (calls === 1) {
        started.resolve()
        await release.promise
      }
      return read
    }
    return { row, release, started, load, calls: () => calls }
  }

  const tags = ['invoice:1']

  it('invalidateTags on this instance: the later read loads v2', async () => {
    const cache = fx.cache()
    const db = source()
    const first = cache.getOrSet('invoice:1', db.load, { tags })
    await db.started.promise
    db.row.version = 2
    await cache.invalidateTags(tags)
    const second = cache.getOrSet('invoice:1', db.load, { tags })
    db.release.resolve()
    expect(await first).toEqual({ version: 1 })
    expect(await second).toEqual({ version: 2 })
    expect(db.calls()).toBe(2)
    expect(await cache.getOrSet('invoice:1', db.load, { tags })).toEqual({ version: 2 })
  })

  it('invalidateTags on another instance (the bus notice arrived): the later read loads v2', async () => {
    const ns = fx.namespace()
    const writer = fx.cache({ namespace: ns })
    const reader = fx.cache({ namespace: ns })
    expect(await eventually(() => writer.busConnected && reader.busConnected)).toBe(true)
    const db = source()
    const first = reader.getOrSet('invoice:1', db.load, { tags })
    await db.started.promise
    db.row.version = 2
    const busIn = reader.stats().busIn
    await writer.invalidateTags(tags)
    expect(await eventually(() => reader.stats().busIn > busIn)).toBe(true)
    const second = reader.getOrSet('invoice:1', db.load, { tags })
    db.release.resolve()
    expect(await first).toEqual({ version: 1 })
    expect(await second).toEqual({ version: 2 })
    expect(db.calls()).toBe(2)
  })

  it('delete on another instance (the bus notice arrived): the later read loads v2', async () => {
    const ns = fx.namespace()
    const writer = fx.cache({ namespace: ns })
    const reader = fx.cache({ namespace: ns })
    expect(await eventually(() => writer.busConnected && reader.busConnected)).toBe(true)
    const db = source()
    const first = reader.getOrSet('invoice:1', db.load)
    await db.started.promise
    db.row.version = 2
    const busIn = reader.stats().busIn
    await writer.delete('invoice:1')
    expect(await eventually(() => reader.stats().busIn > busIn)).toBe(true)
    const second = reader.getOrSet('invoice:1', db.load)
    db.release.resolve()
    expect(await first).toEqual({ version: 1 })
    expect(await second).toEqual({ version: 2 })
    expect(db.calls()).toBe(2)
  })

  it('with no invalidation in between, a later read still joins (one load)', async () => {
    const cache = fx.cache()
    const db = source()
    const first = cache.getOrSet('invoice:1', db.load, { tags })
    await db.started.promise
    await cache.invalidateTags(['invoice:2'])
    const second = cache.getOrSet('invoice:1', db.load, { tags })
    db.release.resolve()
    expect(await first).toEqual({ version: 1 })
    expect(await second).toEqual({ version: 1 })
    expect(db.calls()).toBe(1)
    expect(cache.stats().coalesced).toBe(1)
  })
})
