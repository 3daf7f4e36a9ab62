/**
 * A process held past its deadlines (a long synchronous task, a GC pause, a host whose cores are
 * all busy) while Redis answered in time: the reply sits in the socket when the deadline's timer
 * fires. The timer fires before the loop reads its sockets, so a verdict taken in the timer
 * rejects an answer given in time; the verdict is taken after the sockets were read
 * (tiers/watchdog.ts). Counted: no timeout, no L2 error, no deferred invalidation. The same for
 * the peers' confirmations of an awaited invalidation: bus/await-peers.test.ts. (That a server which does not answer still fails within
 * the deadline is tests/integration/peer-defects.test.ts and bus/await-peers.test.ts, SIGSTOP.)
 */
import { isDeepStrictEqual } from 'node:util'
import { holdProcess } from '@ayala/testkit'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually, Fixture } from '../../helpers/fixture.js'

describe('a process held past redisTimeout while Redis answered in time', () => {
  const fx = new Fixture()
  afterEach(() => fx.closeCaches())
  afterAll(() => fx.dispose())

  it('the replies that arrived meanwhile are served: no false timeout, nothing deferred', async () => {
    const ns = fx.namespace()
    const writer = fx.cache({ namespace: ns, redisTimeout: '50ms' })
    const reader = fx.cache({ namespace: ns, redisTimeout: '50ms' })
    expect(await eventually(() => reader.busConnected)).toBe(true)
    const rounds = 10
    const wrong: string[] = []
    for (let n = 0; n < rounds; n++) {
      const key = `k${n}`
      await writer.set(key, n, { tags: ['t'] })
      // Sent now (cold: L2 reads), answered by Redis within a millisecond, read after the hold.
      const get = reader.get(key)
      const many = reader.getMany([key, 'missing'])
      const has = reader.has(key)
      const bump = reader.invalidateTags([`other-${n}`])
      holdProcess(300)
      const outcome = [await get, await many, await has, await bump]
      if (!isDeepStrictEqual(outcome, [n, [n, undefined], true, undefined]))
        wrong.push(`${n}: ${JSON.stringify(outcome)}`)
    }
    expect(wrong).toEqual([])
    expect(reader.stats()).toMatchObject({ l2Errors: 0, pendingInvalidations: 0 })
  })
})
