/**
 * What a cold read costs Redis, counted by Redis itself: the delta of `INFO commandstats` (which
 * counts a Lua script's inner calls as commands, unlike a client-side count) on a private server
 * nobody else uses. A cold `getMany` of 100 keys and a cold `get` are at most 3 server-side
 * commands (issue 19: the read script was about one per entry and one per header tag), and the
 * tag check stays exact.
 */
import { type PrivateRedis, startPrivateRedis } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, createCache } from '../../../src/index.js'

/** Calls per command name, from `INFO commandstats`. */
async function commandStats(admin: Redis): Promise<Map<string, number>> {
  const info = await admin.info('commandstats')
  const out = new Map<string, number>()
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    out.set(match[1] as string, Number(match[2]))
  return out
}

describe('server-side commands of a cold read (INFO commandstats)', () => {
  let redis: PrivateRedis
  let admin: Redis
  const caches: Cache[] = []
  beforeAll(async () => {
    redis = await startPrivateRedis()
    admin = new Redis(redis.url)
  })
  afterAll(async () => {
    for (const cache of caches.splice(0)) await cache.close()
    admin?.disconnect()
    await redis?.dispose()
  })

  function cache(namespace: string): Cache {
    const created = createCache({ redis: redis.url, namespace, bus: false, redisTimeout: '5s' })
    caches.push(created)
    return created
  }

  /** The commands Redis ran during `body` (every client but this admin's INFO calls). */
  async function counted(body: () => Promise<unknown>): Promise<Record<string, number>> {
    const before = await commandStats(admin)
    await body()
    const after = await commandStats(admin)
    const delta: Record<string, number> = {}
    for (const [name, calls] of after) {
      // The first INFO is counted once it has run, inside the window.
      const n = calls - (before.get(name) ?? 0) - (name === 'info' ? 1 : 0)
      if (n > 0) delta[name] = n
    }
    return delta
  }

  const total = (delta: Record<string, number>): number => Object.values(delta).reduce((a, b) => a + b, 0)

  it('getMany(100) from a cold instance: 1 command untagged, 2 tagged; invalidated entries are misses', async () => {
    const writer = cache('cmd-many')
    const keys = Array.from({ length: 100 }, (_, i) => `invoice:${i}`)
    const plain = keys.map((key) => `plain:${key}`)
    for (const key of keys) await writer.set(key, { key }, { tags: [key, 'client:7', 'tenant:1'] })
    for (const key of plain) await writer.set(key, { key })
    await writer.invalidateTags(['invoice:7', 'invoice:70'])

    const reader = cache('cmd-many')
    await reader.ready()
    let values: unknown[] = []
    const untagged = await counted(async () => {
      values = await reader.getMany(plain)
    })
    expect(values).toEqual(plain.map((key) => ({ key })))
    expect(untagged).toEqual({ mget: 1 })

    const tagged = await counted(async () => {
      values = await reader.getMany(keys)
    })
    // Entries, generation; then the 102 distinct header tags' versions: 2 commands, not ~400.
    expect(tagged).toEqual({ mget: 2 })
    expect(total(tagged)).toBeLessThanOrEqual(3)
    const wrong = keys.filter((key, i) => {
      const invalidated = key === 'invoice:7' || key === 'invoice:70'
      return invalidated ? values[i] !== undefined : JSON.stringify(values[i]) !== JSON.stringify({ key })
    })
    expect(wrong).toEqual([]) // 0 stale, 0 lost
    expect(values.filter((v) => v === undefined)).toHaveLength(2)
  })

  it('a cold get: 1 command untagged, 2 tagged; with the tags known from an L1 record, 1', async () => {
    const writer = cache('cmd-one')
    await writer.set('plain', 1)
    await writer.set('tagged', 2, { tags: ['a', 'b', 'c'] })
    const reader = createCache({
      redis: redis.url,
      namespace: 'cmd-one',
      bus: false,
      redisTimeout: '5s',
      l1Ttl: 1, // L1 records turn stale at once but stay, naming the entry's tags
    })
    caches.push(reader)
    await reader.ready()
    let value: unknown
    const untagged = await counted(async () => {
      value = await reader.get('plain')
    })
    expect(value).toBe(1)
    expect(untagged).toEqual({ mget: 1 })
    const tagged = await counted(async () => {
      value = await reader.get('tagged')
    })
    expect(value).toBe(2)
    expect(tagged).toEqual({ mget: 2 })
    await new Promise((resolve) => setTimeout(resolve, 5))
    await writer.invalidateTags(['c'])
    const known = await counted(async () => {
      value = await reader.get('tagged')
    })
    expect(value).toBeUndefined() // the check is exact: c was invalidated by another instance
    expect(known).toEqual({ mget: 1 })
  })
})
