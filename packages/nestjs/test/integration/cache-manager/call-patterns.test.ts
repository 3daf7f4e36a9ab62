/**
 * The `@nestjs/cache-manager` drop-in passes the same call-pattern suite as `@nestjs/cache-manager`
 * itself. One suite (test/helpers/cache-manager-patterns.ts: the documentation's `CACHE_MANAGER`
 * calls, cache-manager 7's README calls, `CacheInterceptor` with `@CacheKey`, `@CacheTTL` and a
 * `trackBy` subclass, over HTTP) runs against every implementation of
 * test/helpers/cache-manager-apps.ts on the harness's Redis: the real `@nestjs/cache-manager` +
 * cache-manager 7 on Keyv in memory (the reference) and on `@keyv/redis`, and the drop-in L1 only
 * and L1 + Redis, with its own interceptor and with `@nestjs/cache-manager`'s. Each pattern asserts
 * what it must see; then every implementation's records are compared with the reference's.
 *
 * Then what the drop-in adds on the same call sites: two instances on one Redis, where what one
 * writes or deletes is what the other reads 100 ms later (the bus dropped its L1 copy), counted
 * as stale reads: 0 for the drop-in, 20 of 21 for cache-manager's memory-over-Redis tiers.
 */
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { afterAll, describe, expect, it } from 'vitest'
import {
  type CacheApp,
  type Implementation,
  implementations,
  startApp,
  tieredPeer,
} from '../../helpers/cache-manager-apps.js'
import { CALL_PATTERNS } from '../../helpers/cache-manager-patterns.js'
import { deleteNamespaces } from '../../helpers/redis.js'

const redisUrl = serviceUrls().redis
const IMPLEMENTATIONS = implementations(redisUrl)
const REFERENCE = IMPLEMENTATIONS[0]?.name as string
const records = new Map<string, Map<string, unknown>>()
const namespaces: string[] = []

afterAll(async () => {
  // Drop-in entries carry {namespace}; @keyv/redis keys start with the namespace.
  await deleteNamespaces(redisUrl, namespaces)
  const { Redis } = await import('ioredis')
  const admin = new Redis(redisUrl)
  for (const ns of namespaces) {
    const keys = await admin.keys(`${ns}:*`)
    if (keys.length > 0) await admin.del(...keys)
  }
  admin.disconnect()
})

describe.each(IMPLEMENTATIONS)('call patterns on $name', (implementation) => {
  let app: CacheApp
  const seen = new Map<string, unknown>()
  records.set(implementation.name, seen)

  it.each(CALL_PATTERNS)('$name', async (pattern) => {
    if (app === undefined) {
      const namespace = uniqueName('cm-patterns').replace(/[^a-z0-9-]/gi, '')
      namespaces.push(namespace)
      app = await startApp(implementation, namespace)
    }
    seen.set(pattern.name, await pattern.run(app, implementation.dropIn))
  })

  afterAll(async () => {
    await app?.app.close()
  })
})

describe('the same results', () => {
  it.each(IMPLEMENTATIONS.slice(1))("$name records what @nestjs/cache-manager's records", ({ name }) => {
    const reference = records.get(REFERENCE)
    const mine = records.get(name)
    expect(reference?.size).toBe(CALL_PATTERNS.length)
    expect(mine?.size).toBe(CALL_PATTERNS.length)
    for (const pattern of CALL_PATTERNS)
      expect(mine?.get(pattern.name), pattern.name).toEqual(reference?.get(pattern.name))
  })
})

describe('what the drop-in adds on the same call sites', () => {
  /**
   * Instance A updates a key; 100 ms later instance B reads it through `wrap` (which, in
   * cache-manager, copies a lower tier's value into the upper one). B's in-process copy must not
   * outlive A's update: the drop-in's bus drops it; cache-manager's memory tier keeps it.
   */
  async function staleReads(implementation: Implementation): Promise<number> {
    const namespace = uniqueName('cm-two').replace(/[^a-z0-9-]/gi, '')
    namespaces.push(namespace)
    const a = await startApp(implementation, namespace)
    const b = await startApp(implementation, namespace)
    try {
      let stale = 0
      for (let i = 0; i < 20; i++) {
        await a.cache.set('invoice:1', { version: i }, 60_000)
        await new Promise((resolve) => setTimeout(resolve, 100))
        const read = await b.cache.wrap('invoice:1', () => ({ version: -1 }), 60_000)
        if (read.version !== i) stale++
      }
      await a.cache.del('invoice:1')
      await new Promise((resolve) => setTimeout(resolve, 100))
      if ((await b.cache.get('invoice:1')) !== undefined) stale++
      return stale
    } finally {
      await a.app.close()
      await b.app.close()
    }
  }

  it('two instances on one Redis: an update on one is what the other reads 100 ms later', async () => {
    const dropIn = IMPLEMENTATIONS.find((i) => i.name === 'drop-in, L1 + Redis') as Implementation
    expect(await staleReads(dropIn)).toBe(0)
    // cache-manager's README tiers serve B's memory copy: 19 of the 20 reads and the read after
    // the delete (its first read filled the memory tier with the value current then).
    expect(await staleReads(tieredPeer(redisUrl))).toBe(20)
  })
})
