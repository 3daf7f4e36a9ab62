import type { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createCache } from '../../../src/index.js'
import { countingClient, Fixture, sleep } from '../../helpers/fixture.js'

describe('round trips', () => {
  const fx = new Fixture()
  const clients: Redis[] = []
  afterEach(async () => {
    await fx.closeCaches()
    for (const c of clients.splice(0)) c.disconnect()
  })
  afterAll(() => fx.dispose())

  it('getMany of 100 keys from a cold instance: one MGET untagged; tagged, one more MGET for all the header tags', async () => {
    const ns = fx.namespace()
    const writer = fx.cache({ namespace: ns })
    const keys = Array.from({ length: 100 }, (_, i) => `invoice:${i}`)
    const plain = keys.map((key) => `plain:${key}`)
    for (const key of keys) await writer.set(key, { key }, { tags: [key, 'client:7'] })
    for (const key of plain) await writer.set(key, { key })
    const { client, commands } = countingClient()
    clients.push(client)
    const reader = createCache({ redis: client, namespace: ns, bus: false, redisTimeout: '5s' })
    await reader.getMany(['warm-up-the-connection'])
    commands.length = 0
    expect(await reader.getMany(plain)).toEqual(plain.map((key) => ({ key })))
    expect(commands).toEqual(['mget'])
    commands.length = 0
    expect(await reader.getMany(keys)).toEqual(keys.map((key) => ({ key })))
    expect(commands).toEqual(['mget', 'mget']) // the tags (101 of them) were unknown to this instance
    await reader.close()
    expect(client.status).toBe('ready') // a borrowed client is not closed by the cache
  })

  it('getMany whose stale L1 records name the tags is one MGET, and the check is exact', async () => {
    const ns = fx.namespace()
    const writer = fx.cache({ namespace: ns })
    const keys = Array.from({ length: 20 }, (_, i) => `invoice:${i}`)
    for (const key of keys) await writer.set(key, { key }, { tags: [key, 'client:7'] })
    const { client, commands } = countingClient()
    clients.push(client)
    // l1Ttl 1 ms: the L1 records turn stale at once but stay, holding the entries' tags.
    const reader = createCache({ redis: client, namespace: ns, bus: false, redisTimeout: '5s', l1Ttl: 1 })
    await reader.getMany(keys)
    await sleep(5)
    commands.length = 0
    expect(await reader.getMany(keys)).toEqual(keys.map((key) => ({ key })))
    expect(commands).toEqual(['mget'])
    await writer.invalidateTags(['invoice:3'])
    await sleep(5)
    commands.length = 0
    const values = await reader.getMany(keys)
    expect(values[3]).toBeUndefined()
    expect(values.filter((v) => v === undefined)).toHaveLength(1)
    expect(commands).toEqual(['mget'])
    await reader.close()
  })

  it('get: one MGET with its tag check from an L1 record; cold, one MGET, and one more for a tagged entry', async () => {
    const ns = fx.namespace()
    const writer = fx.cache({ namespace: ns })
    await writer.set('k', 1, { tags: ['a', 'b', 'c'] })
    await writer.set('plain', 2)
    const { client, commands } = countingClient()
    clients.push(client)
    // l1Ttl 1 ms: the L1 record turns stale at once but stays, holding the entry's tags.
    const reader = createCache({ redis: client, namespace: ns, bus: false, redisTimeout: '5s', l1Ttl: 1 })
    await reader.get('warm-up-the-connection')
    commands.length = 0
    expect(await reader.get('plain')).toBe(2)
    expect(commands).toEqual(['mget']) // cold: entry + generation
    commands.length = 0
    expect(await reader.get('k')).toBe(1)
    expect(commands).toEqual(['mget', 'mget']) // cold and tagged: the header's tags, one more MGET
    await sleep(5)
    commands.length = 0
    expect(await reader.get('k')).toBe(1)
    expect(commands).toEqual(['mget']) // the stale L1 record named the tags: one MGET
    // The check is real on both paths: a tag invalidated elsewhere makes the entry a miss.
    await writer.invalidateTags(['b'])
    await sleep(5)
    commands.length = 0
    expect(await reader.get('k')).toBeUndefined()
    expect(await reader.has('k')).toBe(false)
    expect(commands).toEqual(['mget', 'mget'])
    const cold = createCache({ redis: client, namespace: ns, bus: false, redisTimeout: '5s' })
    commands.length = 0
    expect(await cold.get('k')).toBeUndefined()
    expect(commands).toEqual(['mget', 'mget'])
    await cold.close()
    await reader.close()
  })

  it('an L1 hit of get is no command', async () => {
    const ns = fx.namespace()
    const writer = fx.cache({ namespace: ns })
    await writer.set('k', 1, { tags: ['a'] })
    const { client, commands } = countingClient()
    clients.push(client)
    const reader = createCache({ redis: client, namespace: ns, bus: false, redisTimeout: '5s' })
    await reader.get('warm-up-the-connection')
    commands.length = 0
    expect(await reader.get('k')).toBe(1)
    expect(await reader.get('k')).toBe(1)
    expect(commands).toEqual(['mget', 'mget']) // the first read fills L1; the second is no command
    await reader.close()
  })

  it('a getOrSet L2 hit is one command (MGET of entry, generation and tags); tags the call did not name cost one more', async () => {
    const ns = fx.namespace()
    const writer = fx.cache({ namespace: ns })
    await writer.set('k', 'v', { tags: ['a', 'b'] })
    const { client, commands } = countingClient()
    clients.push(client)
    const reader = createCache({ redis: client, namespace: ns, bus: false, redisTimeout: '5s' })
    await reader.get('warm-up-the-connection')
    commands.length = 0
    const never = async (): Promise<string> => {
      throw new Error('not called')
    }
    expect(await reader.getOrSet('k', never, { tags: ['a', 'b'] })).toBe('v')
    expect(commands).toEqual(['mget']) // one command: the entry, the generation and the tag versions
    // Entry tags the caller did not name are still checked (one more MGET), so an invalidation of
    // `b` is seen even by a call site that only knows about `a`.
    await writer.invalidateTags(['b'])
    const other = createCache({ redis: client, namespace: ns, bus: false, redisTimeout: '5s' })
    commands.length = 0
    expect(await other.getOrSet('k', async () => 'reloaded', { tags: ['a'] })).toBe('reloaded')
    expect(commands.slice(0, 2)).toEqual(['mget', 'mget'])
    await reader.close()
    await other.close()
  })

  it('an untagged getOrSet L2 hit is one command; a getOrSet miss reads once and writes once', async () => {
    const ns = fx.namespace()
    const writer = fx.cache({ namespace: ns })
    await writer.set('plain', { n: 1 })
    const { client, commands } = countingClient()
    clients.push(client)
    const reader = createCache({ redis: client, namespace: ns, bus: false, redisTimeout: '5s' })
    await reader.get('warm-up-the-connection')
    commands.length = 0
    expect(await reader.getOrSet('plain', async () => ({ n: 2 }))).toEqual({ n: 1 })
    expect(commands).toEqual(['mget'])
    commands.length = 0
    expect(await reader.getOrSet('new', async () => 'loaded', { tags: ['t'] })).toBe('loaded')
    expect(commands).toEqual(['mget', 'set'])
    await reader.close()
  })

  it('getOrSetMany: one read, one batch load, one pipelined write', async () => {
    const ns = fx.namespace()
    const { client, commands } = countingClient()
    clients.push(client)
    const cache = createCache({ redis: client, namespace: ns, bus: false, redisTimeout: '5s' })
    await cache.getMany(['warm-up-the-connection'])
    commands.length = 0
    let batches = 0
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`)
    await cache.getOrSetMany(keys, async (missing) => {
      batches++
      return missing.map((k) => k.toUpperCase())
    })
    expect(batches).toBe(1)
    expect(commands.filter((c) => c === 'mget')).toHaveLength(1)
    expect(commands.filter((c) => c === 'evalsha')).toHaveLength(0)
    expect(commands.filter((c) => c === 'set')).toHaveLength(50) // one pipeline
    await cache.close()
  })
})
