/**
 * Redis Cluster (six redis-server processes on loopback, from @ayala/testkit): entries and their
 * tags' version keys share the namespace hash tag, so the one-round-trip read script, getMany and
 * tag bumps work across a cluster, and the bus reaches instances connected to different nodes.
 */
import { type RedisCluster, startRedisCluster, uniqueName } from '@ayala/testkit'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, createCache } from '../../../src/index.js'
import { eventually } from '../../helpers/fixture.js'

describe('on Redis Cluster', () => {
  let cluster: RedisCluster
  const clients: Cluster[] = []
  const caches: Cache[] = []

  beforeAll(async () => {
    cluster = await startRedisCluster()
  })

  afterAll(async () => {
    await Promise.all(caches.map((c) => c.close()))
    await Promise.all(clients.map((c) => c.quit().catch(() => undefined)))
    await cluster?.dispose()
  })

  function clusterCache(namespace: string): Cache {
    const client = new Cluster([...cluster.nodes])
    clients.push(client)
    const cache = createCache({ redis: client, namespace, redisTimeout: '5s' })
    caches.push(cache)
    return cache
  }

  it('tags invalidate across instances, and getMany / getOrSetMany take one read', async () => {
    const ns = uniqueName('cache')
    const a = clusterCache(ns)
    const b = clusterCache(ns)
    expect(await eventually(() => a.busConnected && b.busConnected, 20_000)).toBe(true)
    const keys = Array.from({ length: 50 }, (_, i) => `invoice:${i}`)
    let batches = 0
    const values = await a.getOrSetMany(
      keys,
      async (missing) => {
        batches++
        return missing.map((key) => ({ key }))
      },
      { tags: (key) => [key, 'client:7'] },
    )
    expect(values).toEqual(keys.map((key) => ({ key })))
    expect(batches).toBe(1)
    expect(await b.getMany(keys)).toEqual(keys.map((key) => ({ key })))
    expect(b.stats().l2Hits).toBe(50)

    await a.invalidateTags(['invoice:3'])
    expect(await eventually(async () => (await b.get('invoice:3')) === undefined)).toBe(true)
    expect(await b.get('invoice:4')).toEqual({ key: 'invoice:4' })
    await a.invalidateTags(['client:7'])
    expect(await eventually(async () => (await b.getMany(keys)).every((v) => v === undefined))).toBe(true)
    const fresh = clusterCache(ns)
    expect(await fresh.getMany(keys)).toEqual(keys.map(() => undefined))
    // Every command above was valid on the cluster (no CROSSSLOT, no fallback taken).
    expect(a.stats().l2Errors + b.stats().l2Errors + fresh.stats().l2Errors).toBe(0)
  })

  it('set, get, clear and the refill race hold on a cluster', async () => {
    const ns = uniqueName('cache')
    const a = clusterCache(ns)
    const b = clusterCache(ns)
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let started!: () => void
    const loaderStarted = new Promise<void>((resolve) => {
      started = resolve
    })
    const pending = a.getOrSet(
      'k',
      async () => {
        started()
        await gate
        return 'old'
      },
      { tags: ['t'] },
    )
    await loaderStarted // the snapshot was taken; the invalidation below lands during the load
    await b.invalidateTags(['t'])
    release()
    expect(await pending).toBe('old')
    expect(await b.getOrSet('k', async () => 'new', { tags: ['t'] })).toBe('new')
    await b.set('s', 'set-with-tags', { tags: ['t', 'u'] })
    expect(await a.get('s')).toBe('set-with-tags')
    await a.invalidateTags(['u'])
    expect(await eventually(async () => (await b.get('s')) === undefined)).toBe(true)
    expect(a.stats().l2Errors + b.stats().l2Errors).toBe(0)
    await b.clear()
    expect(await a.get('k')).toBeUndefined()
  })
})
