import { type ChildProcess, spawn } from 'node:child_process'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { fileURLToPath } from 'node:url'
import { holdProcess } from '@ayala/testkit'
import { Cluster, Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { type Cache, InvalidOptionError, type PeersEvent, prometheusMetrics } from '../../../src/index.js'
import { eventually, Fixture } from '../../helpers/fixture.js'

/** A cache instance in a child process (test/helpers/peer-worker.ts), driven over IPC. */
class Peer {
  private next = 0
  private readonly waiting = new Map<number, (message: Record<string, unknown>) => void>()
  readonly ready: Promise<void>

  constructor(readonly child: ChildProcess) {
    let ready!: () => void
    this.ready = new Promise((resolve) => {
      ready = resolve
    })
    child.on('message', (raw) => {
      const message = raw as Record<string, unknown>
      if (message.ready === true) ready()
      const done = this.waiting.get(message.id as number)
      this.waiting.delete(message.id as number)
      done?.(message)
    })
  }

  private ask(op: string): Promise<Record<string, unknown>> {
    const id = this.next++
    return new Promise((resolve) => {
      this.waiting.set(id, resolve)
      this.child.send({ op, id })
    })
  }

  async read(): Promise<number> {
    return (await this.ask('read')).value as number
  }

  async stats(): Promise<Record<string, number>> {
    return (await this.ask('stats')).stats as Record<string, number>
  }
}

function startPeer(env: Record<string, string>): Peer {
  const script = fileURLToPath(new URL('../../helpers/peer-worker.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Peer(child)
}

describe('invalidations acknowledged by peers (awaitPeers)', () => {
  const fx = new Fixture()
  const children: ChildProcess[] = []
  const admin = new Redis(fx.url)
  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
    }
    await fx.closeCaches()
  })
  afterAll(async () => {
    admin.disconnect()
    await fx.dispose()
  })

  /** Three instances in this process reading `k` (tagged `t`) from the source of truth `truth`. */
  async function threeInstances(): Promise<{ caches: Cache[]; read: (c: Cache) => Promise<number> }> {
    const ns = fx.namespace()
    const caches = [0, 1, 2].map(() => fx.cache({ namespace: ns, l1Ttl: '1h', tagTrust: '1h' }))
    expect(await eventually(() => caches.every((c) => c.busConnected))).toBe(true)
    return { caches, read: (c) => c.getOrSet('k', async () => truth, { tags: ['t'] }) }
  }
  let truth = 0

  it('a loop of writes awaited by every peer: 0 stale reads on the other instances, every ack counted', async () => {
    const { caches, read } = await threeInstances()
    const [a, b, c] = caches as [Cache, Cache, Cache]
    const rounds = 200
    let stale = 0
    for (let n = 1; n <= rounds; n++) {
      await Promise.all([read(b), read(c)]) // the previous version is in their L1
      truth = n
      const ack = await a.invalidateTags(['t'], { awaitPeers: true, peerAckTimeout: '5s' })
      expect(ack).toMatchObject({ sent: true, receivers: 3, confirmed: 3, unconfirmed: 0 })
      for (const peer of [b, c]) if ((await read(peer)) !== n) stale++
    }
    expect(stale).toBe(0)
    expect(a.stats()).toMatchObject({ peerWaits: rounds, peerAcksIn: 3 * rounds, peersUnconfirmed: 0 })
    expect(b.stats().peerAcksOut).toBe(rounds)
    expect(c.stats().peerAcksOut).toBe(rounds)
  })

  it('the same loop without awaitPeers: reads right after the write find the previous version in L1', async () => {
    const { caches, read } = await threeInstances()
    const [a, b, c] = caches as [Cache, Cache, Cache]
    const rounds = 200
    let stale = 0
    for (let n = 1; n <= rounds; n++) {
      await Promise.all([read(b), read(c)])
      truth = n
      expect(await a.invalidateTags(['t'])).toBeUndefined()
      for (const peer of [b, c]) if ((await read(peer)) !== n) stale++
    }
    // The window awaitPeers closes: the notice is published, not yet applied by the peers.
    console.log(`without awaitPeers: ${stale} stale reads of ${2 * rounds}`)
    expect(stale).toBeGreaterThan(0)
    expect(a.stats()).toMatchObject({ peerWaits: 0, peerAcksIn: 0 })
    expect(b.stats().peerAcksOut).toBe(0)
  })

  it('delete, expire and clear await their peers too', async () => {
    const { caches, read } = await threeInstances()
    const [a, b] = caches as [Cache, Cache, Cache]
    truth = 1
    await read(b)
    truth = 2
    expect(await a.delete('k', { awaitPeers: true })).toMatchObject({ receivers: 3, unconfirmed: 0 })
    expect(await read(b)).toBe(2)
    truth = 3
    expect(await a.expire('k', { awaitPeers: true })).toMatchObject({ receivers: 3, unconfirmed: 0 })
    expect(await read(b)).toBe(3)
    truth = 4
    expect(await a.expireTags(['t'], { awaitPeers: true })).toMatchObject({ receivers: 3, unconfirmed: 0 })
    expect(await read(b)).toBe(4)
    truth = 5
    expect(await a.clear({ awaitPeers: true })).toMatchObject({ receivers: 3, unconfirmed: 0 })
    expect(await read(b)).toBe(5)
  })

  it('instances in separate processes: 0 stale reads after each awaited write', async () => {
    const ns = fx.namespace()
    const truthKey = `${ns}:truth`
    const env = { REDIS_URL: fx.url, NAMESPACE: ns, KEY: 'k', TAG: 't', TRUTH_KEY: truthKey }
    const peers = [startPeer(env), startPeer(env)]
    children.push(...peers.map((p) => p.child))
    await Promise.all(peers.map((p) => p.ready))
    const a = fx.cache({ namespace: ns })
    expect(await eventually(() => a.busConnected)).toBe(true)
    const rounds = 100
    let stale = 0
    for (let n = 1; n <= rounds; n++) {
      await Promise.all(peers.map((p) => p.read()))
      await admin.set(truthKey, String(n))
      const ack = await a.invalidateTags(['t'], { awaitPeers: true, peerAckTimeout: '5s' })
      expect(ack).toMatchObject({ receivers: 3, confirmed: 3, unconfirmed: 0 })
      for (const value of await Promise.all(peers.map((p) => p.read()))) if (value !== n) stale++
    }
    expect(stale).toBe(0)
    expect(a.stats()).toMatchObject({ peerAcksIn: 3 * rounds, peersUnconfirmed: 0 })
    for (const peer of peers) expect((await peer.stats()).peerAcksOut).toBe(rounds)
    // The same loop without awaitPeers, for the figure (the IPC round trip to ask for the read
    // gives the notice time to land, so this count is often 0 across processes).
    let unawaited = 0
    for (let n = rounds + 1; n <= 2 * rounds; n++) {
      await Promise.all(peers.map((p) => p.read()))
      await admin.set(truthKey, String(n))
      await a.invalidateTags(['t'])
      for (const value of await Promise.all(peers.map((p) => p.read()))) if (value !== n) unawaited++
    }
    console.log(`separate processes: ${stale} stale of ${2 * rounds} with awaitPeers, ${unawaited} without`)
    await admin.del(truthKey)
  })

  it('the writer held past peerAckTimeout while its peers confirmed in time: confirmed, not unconfirmed', async () => {
    // The peers (separate processes) confirm within a millisecond; the writer is held (a long
    // task, a GC pause, busy cores) right after PUBLISH answered, so the confirmations wait in
    // its subscriber's socket when the deadline's timer fires: the verdict must read them first.
    const ns = fx.namespace()
    const env = { REDIS_URL: fx.url, NAMESPACE: ns, KEY: 'k', TAG: 't', TRUTH_KEY: `${ns}:truth` }
    const peers = [startPeer(env), startPeer(env)]
    children.push(...peers.map((p) => p.child))
    await Promise.all(peers.map((p) => p.ready))
    const a = fx.cache({ namespace: ns })
    expect(await eventually(() => a.busConnected)).toBe(true)
    let holding = false
    const onBus = (event: unknown) => {
      const { direction, message } = event as { direction: string; message: { a?: string } }
      if (holding && direction === 'out' && message.a !== undefined) holdProcess(300)
    }
    subscribe('ayala:cache:bus', onBus)
    try {
      holding = true
      const rounds = 10
      let unconfirmed = 0
      for (let n = 0; n < rounds; n++) {
        const ack = await a.invalidateTags(['t'], { awaitPeers: true, peerAckTimeout: '50ms' })
        expect(ack).toMatchObject({ sent: true, receivers: 3 })
        unconfirmed += ack.unconfirmed
      }
      expect(unconfirmed).toBe(0)
      expect(a.stats()).toMatchObject({ peerWaits: rounds, peersUnconfirmed: 0 })
    } finally {
      holding = false
      unsubscribe('ayala:cache:bus', onBus)
    }
  })

  it('a frozen peer (SIGSTOP): the write waits at most peerAckTimeout and reports it unconfirmed', async () => {
    const ns = fx.namespace()
    const truthKey = `${ns}:truth`
    const env = { REDIS_URL: fx.url, NAMESPACE: ns, KEY: 'k', TAG: 't', TRUTH_KEY: truthKey }
    const peer = startPeer(env)
    children.push(peer.child)
    await peer.ready
    const a = fx.cache({ namespace: ns })
    const b = fx.cache({ namespace: ns })
    expect(await eventually(() => a.busConnected && b.busConnected)).toBe(true)
    await admin.set(truthKey, '1')
    expect(await peer.read()).toBe(1)
    const events: PeersEvent[] = []
    const listener = (event: unknown) => {
      if ((event as PeersEvent).namespace === ns) events.push(event as PeersEvent)
    }
    subscribe('ayala:cache:peers', listener)
    try {
      peer.child.kill('SIGSTOP')
      await admin.set(truthKey, '2')
      const started = Date.now()
      const ack = await a.invalidateTags(['t'], { awaitPeers: true, peerAckTimeout: '300ms' })
      const elapsed = Date.now() - started
      console.log(`frozen peer: resolved after ${elapsed} ms (peerAckTimeout 300 ms)`, ack)
      expect(ack).toMatchObject({ sent: true, receivers: 3, confirmed: 2, unconfirmed: 1 })
      expect(ack.waitedMs).toBeGreaterThanOrEqual(300)
      expect(a.stats().peersUnconfirmed).toBe(1)
      expect(events).toEqual([expect.objectContaining({ receivers: 3, confirmed: 2, unconfirmed: 1 })])
      peer.child.kill('SIGCONT')
      // Thawed, it applies the notice it was holding (its late confirmation is ignored) ...
      expect(await peer.read()).toBe(2)
      // ... and confirms the next write in time.
      await admin.set(truthKey, '3')
      expect(await a.invalidateTags(['t'], { awaitPeers: true, peerAckTimeout: '5s' })).toMatchObject({
        receivers: 3,
        unconfirmed: 0,
      })
      expect(await peer.read()).toBe(3)
      expect(a.stats()).toMatchObject({ peerWaits: 2, peersUnconfirmed: 1, peerAcksIn: 5 })
      const text = prometheusMetrics(a)
      expect(text).toContain(`ayala_cache_peer_waits_total{namespace="${ns}"} 2`)
      expect(text).toContain(`ayala_cache_peers_unconfirmed_total{namespace="${ns}"} 1`)
    } finally {
      unsubscribe('ayala:cache:peers', listener)
      await admin.del(truthKey)
    }
  })

  it('a subscriber that never confirms is counted and reported; a killed peer is not waited for', async () => {
    const ns = fx.namespace()
    const truthKey = `${ns}:truth`
    const env = { REDIS_URL: fx.url, NAMESPACE: ns, KEY: 'k', TAG: 't', TRUTH_KEY: truthKey }
    const peer = startPeer(env)
    children.push(peer.child)
    await peer.ready
    const a = fx.cache({ namespace: ns })
    expect(await eventually(() => a.busConnected)).toBe(true)
    // Not a cache (redis-cli SUBSCRIBE, an older release): PUBLISH counts it, it never confirms.
    const channel = `{${ns}}:bus`
    const listener = new Redis(fx.url)
    await listener.subscribe(channel)
    try {
      const ack = await a.delete('k', { awaitPeers: true, peerAckTimeout: '200ms' })
      expect(ack).toMatchObject({ receivers: 3, confirmed: 2, unconfirmed: 1 })
    } finally {
      listener.disconnect()
    }
    // A killed peer's connection closes: PUBLISH stops counting it, nothing waits for it.
    peer.child.kill('SIGKILL')
    expect(
      await eventually(async () => {
        const [, count] = (await admin.pubsub('NUMSUB', channel)) as [string, number]
        return count === 1
      }),
    ).toBe(true)
    const ack = await a.delete('k', { awaitPeers: true, peerAckTimeout: '10s' })
    expect(ack).toMatchObject({ receivers: 1, confirmed: 1, unconfirmed: 0 })
  })

  it('refused without the bus; L1 only has no peers; a bad value is a typed error', async () => {
    const off = fx.cache({ bus: false })
    await expect(off.invalidateTags(['t'], { awaitPeers: true })).rejects.toThrow(InvalidOptionError)
    const { createCache } = await import('../../../src/index.js')
    const local = createCache()
    expect(await local.delete('k', { awaitPeers: true })).toMatchObject({ receivers: 0, unconfirmed: 0 })
    await local.close()
    const on = fx.cache()
    await expect(on.delete('k', { awaitPeers: 'yes' as unknown as boolean })).rejects.toMatchObject({
      code: 'E_CACHE_INVALID_OPTION',
      option: 'awaitPeers',
    })
    await expect(on.delete('k', { awaitPeers: true, peerAckTimeout: '-1s' as '1s' })).rejects.toMatchObject({
      code: 'E_CACHE_INVALID_DURATION',
    })
    expect(() => createCache({ peerAckTimeout: 'soon' as '1s' })).toThrow()
  })

  it('refused on Redis Cluster, before anything applies (PUBLISH counts one node)', async () => {
    // Never reached: the option is refused before any command (nothing listens on port 1).
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], {
      lazyConnect: true,
      clusterRetryStrategy: () => null,
    })
    const { createCache } = await import('../../../src/index.js')
    const cache = createCache({ redis: cluster, namespace: fx.namespace(), connectTimeout: '10ms' })
    try {
      await expect(cache.invalidateTags(['t'], { awaitPeers: true })).rejects.toMatchObject({
        code: 'E_CACHE_INVALID_OPTION',
        option: 'awaitPeers',
      })
      await expect(cache.delete('k', { awaitPeers: true })).rejects.toThrow(/Redis Cluster/)
    } finally {
      await cache.close()
      cluster.disconnect()
    }
  })
})
