import { Cluster, Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { createCache, DEFAULT_CACHE_OPTIONS, type InvalidOptionError } from '../../../src/index.js'
import { failoverCheckWanted } from '../../../src/recovery/failover-check.js'
import type { RedisTier } from '../../../src/tiers/redis-tier.js'

// Clients that never connect (lazyConnect): only their options are looked at.
const sentinel = new Redis({ sentinels: [{ host: '127.0.0.1', port: 1 }], name: 'cache', lazyConnect: true })
const plain = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true })
const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true })
const client = (c: Redis | Cluster) => c as unknown as RedisTier['client']

describe('failoverCheck', () => {
  afterAll(() => {
    for (const c of [sentinel, plain, cluster]) c.disconnect()
  })

  it("defaults to 'sentinel': on for a client that connects through Sentinel, off otherwise", () => {
    expect(DEFAULT_CACHE_OPTIONS.failoverCheck).toBe('sentinel')
    expect(createCache().options.failoverCheck).toBe('sentinel')
    expect(failoverCheckWanted(client(sentinel), 'sentinel')).toBe(true)
    expect(failoverCheckWanted(client(plain), 'sentinel')).toBe(false)
  })

  it('true turns it on for any connection, false off; never for a Cluster client', () => {
    expect(failoverCheckWanted(client(plain), true)).toBe(true)
    expect(failoverCheckWanted(client(sentinel), false)).toBe(false)
    expect(failoverCheckWanted(client(cluster), true)).toBe(false)
    expect(failoverCheckWanted(client(cluster), 'sentinel')).toBe(false)
  })

  it('refuses another value, naming the option', () => {
    let error: InvalidOptionError | undefined
    try {
      createCache({ failoverCheck: 'always' as never })
    } catch (caught) {
      error = caught as InvalidOptionError
    }
    expect(error?.code).toBe('E_CACHE_INVALID_OPTION')
    expect(error?.option).toBe('failoverCheck')
    expect(createCache({ failoverCheck: true }).options.failoverCheck).toBe(true)
    expect(createCache({ failoverCheck: false }).options.failoverCheck).toBe(false)
  })
})
