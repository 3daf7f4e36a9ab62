import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type CountingProxy, startCountingProxy } from '../../../src/cache/round-trips.js'

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const prefix = `ayala-bench-test-${process.pid}-${Date.now()}`

/** Let replies and any trailing bytes pass through the proxy before reading its counters. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 30))

describe('startCountingProxy', () => {
  let proxy: CountingProxy
  let client: Redis

  beforeAll(async () => {
    proxy = await startCountingProxy(redisUrl)
    client = new Redis(proxy.url)
    await client.ping()
  })
  beforeEach(async () => {
    await settle()
    proxy.reset()
  })
  afterAll(async () => {
    const keys = await client.keys(`${prefix}*`)
    if (keys.length > 0) await client.del(...keys)
    await client.quit()
    await proxy.close()
  })

  it('counts one command and one round trip for a GET', async () => {
    await client.get(`${prefix}:a`)
    await settle()
    expect(proxy.counts()).toEqual({ commands: 1, roundTrips: 1 })
  })

  it('counts awaited commands as separate round trips', async () => {
    await client.set(`${prefix}:a`, '1')
    await client.get(`${prefix}:a`)
    await settle()
    expect(proxy.counts()).toEqual({ commands: 2, roundTrips: 2 })
  })

  it('counts a pipeline, an MGET and a Promise.all written in one tick as one round trip each', async () => {
    await client.pipeline().set(`${prefix}:p1`, '1').set(`${prefix}:p2`, '2').get(`${prefix}:p1`).exec()
    await settle()
    expect(proxy.counts()).toEqual({ commands: 3, roundTrips: 1 })

    proxy.reset()
    await client.mget(`${prefix}:p1`, `${prefix}:p2`)
    await settle()
    expect(proxy.counts()).toEqual({ commands: 1, roundTrips: 1 })

    proxy.reset()
    await Promise.all(Array.from({ length: 20 }, (_, i) => client.get(`${prefix}:p${i}`)))
    await settle()
    expect(proxy.counts()).toEqual({ commands: 20, roundTrips: 1 })
  })

  it('parses commands whose arguments span many TCP chunks and contain CRLF bytes', async () => {
    const big = Buffer.alloc(300_000, 'x')
    big.write('\r\n*3\r\n$3\r\n', 1_000)
    await client.set(`${prefix}:big`, big)
    const back = await client.getBuffer(`${prefix}:big`)
    await settle()
    expect(back?.equals(big)).toBe(true)
    expect(proxy.counts()).toEqual({ commands: 2, roundTrips: 2 })
  })
})
