/**
 * A brand-new instance and its first Redis connection, on the shared Redis behind testkit's TCP
 * proxy, which holds the connection's first bytes for 300 ms (its ready check answers far past
 * the default `redisTimeout` of 50 ms, as on a loaded machine), then lets everything through.
 *
 * The namespace was cleared first (its generation raised on Redis). A first read that gave up on
 * the connection after `redisTimeout` took its snapshot from the local tag table, which has never
 * seen that generation (0), and the entry its load stored was unusable by every reader, which
 * then loaded again. Now the first operations wait up to `connectTimeout` for the first
 * connection, an entry stamped with a version the instance never saw from Redis goes to L1 only
 * (the readers' valid L2 entry is not overwritten), `set` reads a generation it never saw, and
 * `cache.ready()` waits for the connection or rejects with a typed error.
 */
import { startTcpProxy, type TcpProxy } from '@ayala/testkit'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, type CacheOptions, createCache } from '../../../src/index.js'
import { Fixture, sleep } from '../../helpers/fixture.js'

describe('the first Redis connection of a new instance', () => {
  const fx = new Fixture()
  let proxy: TcpProxy
  const slow: Cache[] = []

  beforeAll(async () => {
    proxy = await startTcpProxy({ targetPort: Number(new URL(fx.url).port || 6379) })
  })
  afterEach(async () => {
    await Promise.all(slow.splice(0).map((c) => c.close()))
    proxy.restore()
    await fx.closeCaches()
  })
  afterAll(async () => {
    await proxy?.close()
    await fx.dispose()
  })

  /** A new instance whose connection goes through the slow proxy (the default `redisTimeout`). */
  function behindProxy(namespace: string, options: CacheOptions = {}): Cache {
    const cache = createCache({ redis: `redis://127.0.0.1:${proxy.port}`, namespace, ...options })
    slow.push(cache)
    return cache
  }

  /** Hold everything sent through the proxy for `ms`, then deliver it: a slow first connection. */
  function slowStart(ms = 300): void {
    proxy.blackhole()
    setTimeout(() => proxy.restore(), ms)
  }

  /** A loader that outlasts the slow connection's set-up, so that its write can reach Redis. */
  const slowLoader = (value: string) => async () => {
    await sleep(1_000)
    return value
  }

  it('waits for the first connection: its load is stamped with the generation Redis holds', async () => {
    const ns = fx.namespace()
    const writer = fx.cache({ namespace: ns })
    await writer.getOrSet('k', async () => 'before-clear')
    await writer.clear()
    slowStart()
    const fresh = behindProxy(ns)
    expect(await fresh.getOrSet('k', slowLoader('loaded-by-fresh'))).toBe('loaded-by-fresh')
    expect(fresh.stats().l2Errors).toBe(0) // the read waited for the connection instead of failing
    // Another instance finds that entry valid: no second load.
    let loads = 0
    const reader = fx.cache({ namespace: ns })
    const value = await reader.getOrSet('k', async () => {
      loads++
      return 'loaded-by-reader'
    })
    expect({ value, loads }).toEqual({ value: 'loaded-by-fresh', loads: 0 })
  })

  it('never writes an entry stamped with a generation it has not seen from Redis', async () => {
    const ns = fx.namespace()
    const writer = fx.cache({ namespace: ns })
    await writer.clear()
    await writer.getOrSet('k', async () => 'valid-after-clear')
    slowStart()
    // connectTimeout as short as redisTimeout: the first read gives up, the load runs on the
    // local table (generation unknown), and the connection is ready by the time it stores.
    const fresh = behindProxy(ns, { connectTimeout: '50ms' })
    expect(await fresh.getOrSet('k', slowLoader('loaded-blind'))).toBe('loaded-blind')
    expect(fresh.stats().l2Errors).toBeGreaterThan(0)
    expect(await fresh.ready()).toBeUndefined()
    let loads = 0
    const reader = fx.cache({ namespace: ns })
    const value = await reader.getOrSet('k', async () => {
      loads++
      return 'loaded-by-reader'
    })
    // The valid entry was not overwritten by one no reader can use.
    expect({ value, loads }).toEqual({ value: 'valid-after-clear', loads: 0 })
  })

  it('set without tags on an instance that never read: stamped with the generation Redis holds', async () => {
    const ns = fx.namespace()
    await fx.cache({ namespace: ns }).clear()
    const fresh = fx.cache({ namespace: ns })
    await fresh.ready()
    await fresh.set('s', 'set-by-fresh')
    expect(await fx.cache({ namespace: ns }).get('s')).toBe('set-by-fresh')
  })

  it('ready() resolves once connected, and rejects with a typed error when it cannot connect', async () => {
    const ns = fx.namespace()
    slowStart()
    const fresh = behindProxy(ns)
    await fresh.ready()
    expect(fresh.stats().l2Errors).toBe(0)

    proxy.blackhole() // connections accepted, nothing forwarded: the ready check never answers
    const stuck = behindProxy(ns, { connectTimeout: '300ms' })
    const failure = await stuck.ready({ timeout: '300ms' }).then(
      () => undefined,
      (error: { code?: string }) => error.code,
    )
    expect(failure).toBe('E_CACHE_L2_UNAVAILABLE')
    // Calls wait at most connectTimeout, then fall back (a miss, the loader's value).
    expect(await stuck.get('absent')).toBeUndefined()
    expect(await stuck.getOrSet('k', async () => 'from-loader')).toBe('from-loader')
    expect(await createCache().ready()).toBeUndefined() // L1 only: nothing to wait for
  })
})
