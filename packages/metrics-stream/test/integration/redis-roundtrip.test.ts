import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { partitionKeys } from '../../src/index.js'

describe('partition keys on real Redis', () => {
  const redis = new Redis(serviceUrls().redis)
  const namespace = uniqueName('ms')

  afterAll(async () => {
    const keys = await redis.keys(`{${namespace}:*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })

  it('updates a partition offset and an aggregate in one MULTI', async () => {
    const keys = partitionKeys(namespace, 'invoices', 0)
    const result = await redis
      .multi()
      .hset(keys.state, 'offset', '41')
      .hincrby(`${keys.aggregatePrefix}total`, 'paid', 1999)
      .exec()
    expect(result?.every(([error]) => error === null)).toBe(true)
    expect(await redis.hget(keys.state, 'offset')).toBe('41')
    expect(await redis.hget(`${keys.aggregatePrefix}total`, 'paid')).toBe('1999')
  })
})
