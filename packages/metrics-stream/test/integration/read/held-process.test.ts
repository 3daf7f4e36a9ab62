/**
 * A dashboard read whose reply Redis gave in time while this process was held past the read's
 * deadline (a long synchronous task, a GC pause, busy cores): the reply waits in the socket when
 * the deadline's timer fires, and the timer fires before the loop reads its sockets. The
 * verdict is taken after the sockets were read (read/deadlines.ts): the read is served, not
 * rejected. A reply that really does not come is still rejected.
 */
import { holdProcess } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { DEADLINE, Deadlines } from '../../../src/read/deadlines.js'
import { urls } from '../../helpers/harness.js'

describe('dashboard read deadlines in a process held past them', () => {
  const redis = new Redis(urls.redis)
  afterAll(() => redis.disconnect())

  it('replies received during the hold are served; one that never comes is rejected', async () => {
    const deadlines = new Deadlines()
    await redis.ping()
    const rounds = 10
    let rejected = 0
    for (let n = 0; n < rounds; n++) {
      const read = deadlines.bound(redis.echo(`figures-${n}`), 50).catch((reason: unknown) => reason)
      holdProcess(300)
      if ((await read) !== `figures-${n}`) rejected++
    }
    expect(rejected).toBe(0)
    // Never settled: rejected with DEADLINE once the loop turned past the deadline.
    const never = deadlines.bound(new Promise<string>(() => undefined), 50).catch((reason: unknown) => reason)
    expect(await never).toBe(DEADLINE)
    deadlines.close()
  })
})
