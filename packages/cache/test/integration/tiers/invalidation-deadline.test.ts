/**
 * `invalidationTimeout`: a Redis that answers, but slower than `redisTimeout` (a loaded host, a
 * link with latency: the loopback proxy delays every chunk by 60 ms). A read past its 50 ms
 * deadline is a miss (the loader answers); an invalidation gets the longer deadline (250 ms by
 * default), so it reaches Redis and every peer instead of being deferred for a replay, during
 * which the peers would serve the value it replaced. With `invalidationTimeout` equal to
 * `redisTimeout` the same invalidation is deferred (the option is what makes the difference).
 */
import { startTcpProxy, type TcpProxy } from '@ayala/testkit'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, type CacheOptions, createCache } from '../../../src/index.js'
import { eventually, Fixture } from '../../helpers/fixture.js'

describe('invalidations on a Redis slower than redisTimeout', () => {
  const fx = new Fixture()
  let proxy: TcpProxy
  const slow: Cache[] = []

  beforeAll(async () => {
    proxy = await startTcpProxy({ targetPort: Number(new URL(fx.url).port || 6379) })
  })
  afterEach(async () => {
    proxy.setLatency(0)
    await Promise.all(slow.splice(0).map((c) => c.close()))
    await fx.closeCaches()
  })
  afterAll(async () => {
    await proxy?.close()
    await fx.dispose()
  })

  /** A writer through the proxy and a peer on Redis directly, both on `namespace`. */
  async function writerAndPeer(options: CacheOptions): Promise<{ writer: Cache; peer: Cache }> {
    const namespace = fx.namespace()
    const writer = createCache({
      redis: `redis://127.0.0.1:${proxy.port}`,
      namespace,
      redisTimeout: '50ms',
      ...options,
    })
    slow.push(writer)
    const peer = fx.cache({ namespace, l1Ttl: '1h', tagTrust: '1h' })
    await writer.ready()
    expect(await eventually(() => writer.busConnected && peer.busConnected)).toBe(true)
    return { writer, peer }
  }

  it('the read misses past redisTimeout; the invalidation reaches Redis and the peer within invalidationTimeout', async () => {
    const { writer, peer } = await writerAndPeer({})
    let truth = 1
    const read = (cache: Cache) => cache.getOrSet('k', async () => truth, { tags: ['t'] })
    expect(await read(peer)).toBe(1) // in the peer's L1
    proxy.setLatency(60)
    // A cold read through the slow link: past its 50 ms deadline, the loader answers.
    const errorsBefore = writer.stats().l2Errors
    expect(await writer.get('k')).toBeUndefined()
    expect(writer.stats().l2Errors).toBeGreaterThan(errorsBefore)
    await eventually(() => writer.stats().degraded === false && writer.stats().breaker === 'closed')
    truth = 2
    const ack = await writer.invalidateTags(['t'], { awaitPeers: true, peerAckTimeout: '1s' })
    expect(ack).toMatchObject({ sent: true, receivers: 2, confirmed: 2, unconfirmed: 0 })
    expect(writer.stats().pendingInvalidations).toBe(0)
    expect(await read(peer)).toBe(2)
  })

  it('with invalidationTimeout equal to redisTimeout the same invalidation is deferred', async () => {
    const { writer, peer } = await writerAndPeer({ invalidationTimeout: '50ms' })
    let truth = 1
    const read = (cache: Cache) => cache.getOrSet('k', async () => truth, { tags: ['t'] })
    expect(await read(peer)).toBe(1)
    proxy.setLatency(60)
    truth = 2
    const ack = await writer.invalidateTags(['t'], { awaitPeers: true, peerAckTimeout: '1s' })
    expect(ack.sent).toBe(false)
    expect(writer.stats().pendingInvalidations).toBeGreaterThan(0)
    // The peer was not told: it still serves the value the write replaced, until the replay.
    expect(await read(peer)).toBe(1)
    proxy.setLatency(0)
    expect(await eventually(async () => (await read(peer)) === 2)).toBe(true)
  })
})
