/**
 * Auto-recovery on a real Redis reached through a loopback proxy (testkit's `startTcpProxy`):
 * the link is cut (connections refused) or blackholed (held, a hung server) while an instance
 * invalidates, and every read made after the invalidation returned is compared with the truth.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import {
  type PrivateRedis,
  startPrivateRedis,
  startTcpProxy,
  type TcpProxy,
  uniqueName,
} from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { type Cache, type CacheOptions, createCache, prometheusMetrics } from '../../../src/index.js'
import { eventually, sleep } from '../../helpers/fixture.js'

interface Invoice {
  id: number
  version: number
}

/** The database of the test: the truth every read is compared with. */
class Truth {
  readonly rows = new Map<number, Invoice>()
  loads = 0
  constructor(count: number) {
    for (let id = 1; id <= count; id++) this.rows.set(id, { id, version: 1 })
  }
  /** Commit a new version of `id`. */
  write(id: number): void {
    const row = this.rows.get(id) as Invoice
    this.rows.set(id, { id, version: row.version + 1 })
  }
  load(id: number): Invoice {
    this.loads++
    return { ...(this.rows.get(id) as Invoice) }
  }
}

/** Reads through one instance, counted and compared with the truth at the time of the read. */
class Reader {
  reads = 0
  stale = 0
  constructor(
    readonly name: string,
    readonly cache: Cache,
    private readonly truth: Truth,
  ) {}
  async read(id: number): Promise<void> {
    // The truth can only move forward while the read runs: compare with the version before it.
    const expected = (this.truth.rows.get(id) as Invoice).version
    const value = await this.cache.getOrSet<Invoice>(`invoice:${id}`, () => this.truth.load(id), {
      tags: [`invoice:${id}`],
    })
    this.reads++
    if (value.version < expected) this.stale++
  }
  async readAll(ids: readonly number[]): Promise<void> {
    for (const id of ids) await this.read(id)
  }
  /** `get` (no loader): a miss is fine, an old value is not. */
  async peekAll(ids: readonly number[]): Promise<void> {
    for (const id of ids) {
      const expected = (this.truth.rows.get(id) as Invoice).version
      const value = await this.cache.get<Invoice>(`invoice:${id}`)
      this.reads++
      if (value !== undefined && value.version < expected) this.stale++
    }
  }
}

describe('auto-recovery: invalidations that cannot reach Redis are kept and replayed', () => {
  let redis: PrivateRedis | undefined
  const proxies: TcpProxy[] = []
  const caches: Cache[] = []
  let admin: Redis | undefined

  afterEach(async () => {
    await Promise.all(caches.splice(0).map((c) => c.close()))
    for (const proxy of proxies.splice(0)) await proxy.close()
    admin?.disconnect()
    admin = undefined
    await redis?.dispose()
    redis = undefined
  })

  async function setUp(extra: CacheOptions = {}) {
    redis = await startPrivateRedis()
    const proxy = await startTcpProxy({ targetPort: redis.port })
    proxies.push(proxy)
    admin = new Redis(redis.url)
    const ns = uniqueName('cache')
    const options: CacheOptions = {
      redis: `redis://127.0.0.1:${proxy.port}`,
      namespace: ns,
      ttl: '10m',
      // The defect needs nothing but the defaults that keep L1 entries long: a 10-minute
      // invoice, trusted in L1 as long as the bus says nothing.
      l1Ttl: '10m',
      tagTrust: '10m',
      redisTimeout: '200ms',
      ...extra,
    }
    const make = (more: CacheOptions = {}): Cache => {
      const cache = createCache({ ...options, ...more })
      caches.push(cache)
      return cache
    }
    return { proxy, ns, options, make }
  }

  /** Events of the recovery channel for one namespace, with their time. */
  function recoveryEvents(ns: string) {
    const events: Array<{ state: string; at: number; pending: number; replayed: number | undefined }> = []
    const listener = (event: unknown) => {
      const e = event as { namespace: string; state: string; pending: number; replayed?: number }
      if (e.namespace === ns)
        events.push({ state: e.state, at: Date.now(), pending: e.pending, replayed: e.replayed })
    }
    subscribe('ayala:cache:recovery', listener)
    return { events, stop: () => unsubscribe('ayala:cache:recovery', listener) }
  }

  /**
   * The whole story of the defect: A and B warm, the link faulted for 5 s, invoices 1-5 written
   * and their tags invalidated through A, reads through A and B the whole time (and `get`s through
   * B after the link returns), then a third instance C started once A has replayed. Returns the
   * figures; every read after the invalidation returned is compared with the truth.
   */
  async function story(fault: 'cut' | 'blackhole', setup: Awaited<ReturnType<typeof setUp>>, a0: Cache) {
    const { proxy, ns, make } = setup
    const timeline = recoveryEvents(ns)
    try {
      const truth = new Truth(20)
      const ids = [...truth.rows.keys()]
      const changed = [1, 2, 3, 4, 5]
      const a = new Reader('A', a0, truth)
      // B keeps L1 entries 1 s only: after the link returns it reads L2 again and again, the
      // race the hold covers (a peer's replay still on its way).
      const b = new Reader('B', make({ l1Ttl: '1s' }), truth)
      expect(await eventually(() => a.cache.busConnected && b.cache.busConnected)).toBe(true)
      await a.readAll(ids)
      await b.readAll(ids)
      // Warm: both L1s hold every invoice (B read them from L2).
      expect(b.cache.stats().l2Hits).toBe(ids.length)

      const faultAt = Date.now()
      if (fault === 'cut') proxy.cut()
      else proxy.blackhole()
      // A refused connection is seen at once; a hung one by the bus heartbeat. Wait for it: an
      // instance cannot stop serving its L1 before it knows (see the blackhole window test).
      expect(await eventually(() => !a.cache.busConnected && !b.cache.busConnected)).toBe(true)
      const detectedMs = Date.now() - faultAt
      for (const id of changed) truth.write(id)
      let rejected: unknown
      await a.cache.invalidateTags(changed.map((id) => `invoice:${id}`)).catch((error: unknown) => {
        rejected = error
      })
      const invalidatedAt = Date.now()
      // From here on, every read is counted.
      const degradedDuringFault = a.cache.stats()
      while (Date.now() - faultAt < 5_000) {
        await a.readAll(ids)
        await b.readAll(ids)
        await sleep(50)
      }
      const duringFault = { a: a.reads, b: b.reads }

      const restoredAt = Date.now()
      proxy.restore()
      // Keep reading through both while the link comes back, until A has replayed and both trust
      // L2 again, then long enough for L2 hits (past the breaker's cooldown).
      let recoveredAt = 0
      while (recoveredAt === 0 || Date.now() - recoveredAt < 3_000) {
        await a.readAll(ids)
        await b.readAll(ids)
        await b.peekAll(ids)
        if (
          recoveredAt === 0 &&
          !a.cache.stats().degraded &&
          !a.cache.stats().l2Held &&
          !b.cache.stats().l2Held &&
          a.cache.busConnected &&
          b.cache.busConnected
        )
          recoveredAt = Date.now()
        if (Date.now() - restoredAt > 30_000) break
        await sleep(20)
      }
      const c = new Reader('C', make(), truth)
      await c.readAll(ids)
      const replayedAt = timeline.events.find((e) => e.state === 'recovered')?.at ?? 0
      return {
        figures: {
          fault,
          detectedMs,
          invalidationMs: invalidatedAt - faultAt - detectedMs,
          readsDuringFault: duringFault,
          reads: { a: a.reads, b: b.reads, c: c.reads },
          stale: { a: a.stale, b: b.stale, c: c.stale },
          replayedMsAfterRestore: replayedAt === 0 ? -1 : replayedAt - restoredAt,
          healedMsAfterRestore: recoveredAt === 0 ? -1 : recoveredAt - restoredAt,
          a: pick(a.cache.stats()),
          b: pick(b.cache.stats()),
        },
        rejected,
        recoveredAt,
        degradedDuringFault,
        changed,
        a,
        b,
        c,
        truth,
        timeline: timeline.events.map((e) => e.state),
      }
    } finally {
      timeline.stop()
    }
  }

  function pick(stats: ReturnType<Cache['stats']>) {
    const {
      l1Hits,
      l2Hits,
      misses,
      l2Errors,
      invalidationReplays,
      replayedInvalidations,
      replayFailures,
      pendingOverflows,
      busIn,
      busOut,
    } = stats
    return {
      l1Hits,
      l2Hits,
      misses,
      l2Errors,
      invalidationReplays,
      replayedInvalidations,
      replayFailures,
      pendingOverflows,
      busIn,
      busOut,
    }
  }

  it('a tag invalidation during a 5 s cut resolves, and no read after it returns (A, B, a third instance) gives the old value', async () => {
    const setup = await setUp()
    const run = await story('cut', setup, setup.make())
    console.info('[auto-recovery] cut 5 s:', JSON.stringify(run.figures))
    expect(run.a.stale + run.b.stale + run.c.stale).toBe(0)
    expect(run.rejected).toBeUndefined()
    expect(run.recoveredAt).toBeGreaterThan(0)
    expect(run.degradedDuringFault).toMatchObject({
      degraded: true,
      pendingInvalidations: run.changed.length,
      l2Held: true,
    })
    expect(run.a.cache.stats()).toMatchObject({ degraded: false, pendingInvalidations: 0, l2Held: false })
    expect(run.a.cache.stats().invalidationReplays).toBeGreaterThanOrEqual(1)
    // B read L2 again after the recovery (its hits came from the replayed server state).
    expect(run.b.cache.stats().l2Hits).toBeGreaterThan(20)
    expect(run.timeline).toEqual(expect.arrayContaining(['degraded', 'held', 'recovered', 'released']))
    // The server holds the bumps: every copy agrees.
    for (const id of run.changed)
      expect(Number(await admin?.get(`{${setup.ns}}:t:invoice:${id}`))).toBeGreaterThan(0)
  })

  it('a peer whose link returns before the holder replays does not read L2 meanwhile (recoveryHold)', async () => {
    // The hold must exceed the holder's reconnect delay (1.5 s here): 3 s leaves room for a
    // loaded machine. The default 2 s covers owned connections (100 ms while they hold work).
    const setup = await setUp({ recoveryHold: '3s' })
    // A borrows a connection that retries only every 1.5 s: B (owned, quicker) is back first.
    const slow = new Redis(`redis://127.0.0.1:${setup.proxy.port}`, {
      retryStrategy: () => 1_500,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    })
    slow.on('error', () => undefined)
    try {
      const run = await story('cut', setup, setup.make({ redis: slow }))
      console.info('[auto-recovery] cut 5 s, slow holder:', JSON.stringify(run.figures))
      expect(run.a.stale + run.b.stale + run.c.stale).toBe(0)
      expect(run.recoveredAt).toBeGreaterThan(0)
      expect(run.a.cache.stats().invalidationReplays).toBeGreaterThanOrEqual(1)
    } finally {
      await Promise.all(caches.splice(0).map((c) => c.close()))
      slow.disconnect()
    }
  })

  it('a blackholed (hung) link: the invalidation resolves within the deadline, held bytes delivered late resurrect nothing', async () => {
    const setup = await setUp()
    const run = await story('blackhole', setup, setup.make())
    console.info('[auto-recovery] blackhole 5 s:', JSON.stringify(run.figures))
    expect(run.a.stale + run.b.stale + run.c.stale).toBe(0)
    expect(run.rejected).toBeUndefined()
    expect(run.recoveredAt).toBeGreaterThan(0)
    expect(run.degradedDuringFault).toMatchObject({
      degraded: true,
      pendingInvalidations: run.changed.length,
    })
    // Long after the held bytes (A's first bump, B's timed-out reads) reached Redis, a fresh
    // instance still sees only the new versions.
    await sleep(500)
    const d = new Reader('D', setup.make(), run.truth)
    await d.readAll([...Array(20).keys()].map((i) => i + 1))
    expect(d.stale).toBe(0)
  })

  it('a hung link noticed late: only the instance that cannot know serves its L1 meanwhile (the heartbeat window)', async () => {
    const { proxy, make } = await setUp({ busHeartbeatInterval: '500ms' })
    const truth = new Truth(5)
    const ids = [...truth.rows.keys()]
    const a = new Reader('A', make(), truth)
    const b = new Reader('B', make(), truth)
    expect(await eventually(() => a.cache.busConnected && b.cache.busConnected)).toBe(true)
    await a.readAll(ids)
    await b.readAll(ids)
    proxy.blackhole()
    for (const id of ids) truth.write(id)
    // Invalidated before anyone noticed the hang: A applies it at once; B cannot know.
    await a.cache.invalidateTags(ids.map((id) => `invoice:${id}`))
    let beforeDetection = 0
    let afterDetection = 0
    while (b.cache.busConnected) {
      const stale = b.stale
      await b.readAll(ids)
      beforeDetection += b.stale - stale
      await a.readAll(ids)
      await sleep(20)
    }
    const detectedStale = b.stale
    for (let round = 0; round < 20; round++) {
      await a.readAll(ids)
      await b.readAll(ids)
    }
    afterDetection = b.stale - detectedStale
    proxy.restore()
    expect(await eventually(() => !a.cache.stats().degraded && !b.cache.stats().l2Held, 20_000)).toBe(true)
    await b.readAll(ids)
    console.info(
      '[auto-recovery] hang noticed by the heartbeat:',
      JSON.stringify({ staleOnBBeforeDetection: beforeDetection, afterDetection, staleOnA: a.stale }),
    )
    expect(a.stale).toBe(0)
    expect(b.stale - detectedStale).toBe(0)
  })

  it('past recoveryMaxItems the pending set becomes one generation bump: counted, and still correct', async () => {
    const setup = await setUp({ recoveryMaxItems: 5 })
    const { proxy, ns, make } = setup
    const truth = new Truth(20)
    const ids = [...truth.rows.keys()]
    const a = new Reader('A', make(), truth)
    const b = new Reader('B', make(), truth)
    expect(await eventually(() => a.cache.busConnected && b.cache.busConnected)).toBe(true)
    await a.readAll(ids)
    await b.readAll(ids)
    // In L2 only, named by no pending invalidation: only the generation bump can remove them.
    for (let k = 0; k < 3; k++) await a.cache.set(`extra:${k}`, k)
    expect(await eventually(() => a.cache.stats().busOut === 3)).toBe(true)
    const generationBefore = Number((await admin?.get(`{${ns}}:g`)) ?? 0)
    proxy.cut()
    expect(await eventually(() => !a.cache.busConnected && !b.cache.busConnected)).toBe(true)
    // 12 invoices written, one invalidation call each: 12 tags > 5 slots.
    for (const id of ids.slice(0, 12)) {
      truth.write(id)
      await a.cache.invalidateTags([`invoice:${id}`])
    }
    expect(a.cache.stats()).toMatchObject({ pendingOverflows: 1, pendingInvalidations: 1, degraded: true })
    await a.readAll(ids)
    await b.readAll(ids)
    proxy.restore()
    expect(
      await eventually(
        () => !a.cache.stats().degraded && !a.cache.stats().l2Held && !b.cache.stats().l2Held,
        20_000,
      ),
    ).toBe(true)
    await a.readAll(ids)
    await b.readAll(ids)
    const loadsBefore = truth.loads
    const c = new Reader('C', make(), truth)
    await c.readAll(ids)
    console.info(
      '[auto-recovery] overflow:',
      JSON.stringify({
        stale: { a: a.stale, b: b.stale, c: c.stale },
        cLoads: truth.loads - loadsBefore,
        a: pick(a.cache.stats()),
      }),
    )
    expect(a.stale + b.stale + c.stale).toBe(0)
    // The replay was a namespace generation bump: every entry written before it is gone for C.
    expect(Number(await admin?.get(`{${ns}}:g`))).toBeGreaterThan(generationBefore)
    for (let k = 0; k < 3; k++) expect(await c.cache.get(`extra:${k}`)).toBeUndefined()
    expect(truth.loads - loadsBefore).toBe(ids.length - c.cache.stats().l2Hits)
    expect(a.cache.stats()).toMatchObject({ pendingOverflows: 1, pendingInvalidations: 0 })
  })

  it('the degraded state is visible (stats, event, metrics) and cleared by the replay; every kind of invalidation is replayed', async () => {
    const { proxy, ns, make } = await setUp()
    const a = make()
    const strictNs = uniqueName('cache')
    const strict = make({ onL2Unavailable: 'reject', namespace: strictNs })
    const c = make()
    expect(await eventually(() => a.busConnected && strict.busConnected)).toBe(true)
    await a.set('deleted', 'v1')
    await a.set('expired', 'v1')
    await a.set('overwritten', 'v1')
    await a.set('tagged', 'v1', { tags: ['t1'] })
    await a.set('untouched', 'v1')
    // The bus notices of those sets are sent in the background: let them go out before the cut.
    expect(await eventually(() => a.stats().busOut === 5)).toBe(true)
    const timeline = recoveryEvents(ns)
    try {
      proxy.cut()
      expect(await eventually(() => !a.busConnected)).toBe(true)
      await a.delete('deleted')
      await a.expire('expired')
      await a.set('overwritten', 'v2')
      await a.invalidateTags(['t1'])
      // Today's reject, per call and per instance; the call's choice wins (call > instance > default).
      await expect(a.invalidateTags(['t2'], { onL2Unavailable: 'reject' })).rejects.toMatchObject({
        name: 'L2UnavailableError',
        retriable: true,
      })
      await expect(strict.delete('deleted')).rejects.toMatchObject({ name: 'L2UnavailableError' })
      await expect(strict.clear({ onL2Unavailable: 'resolve' })).resolves.toBeUndefined()
      await expect(a.delete('x', { onL2Unavailable: 'later' as never })).rejects.toMatchObject({
        code: 'E_CACHE_INVALID_OPTION',
        option: 'onL2Unavailable',
      })
      // Applied to A at once.
      expect(await a.get('deleted')).toBeUndefined()
      expect(await a.get('overwritten')).toBe('v2')
      await sleep(50)
      const degraded = a.stats()
      expect(degraded).toMatchObject({ degraded: true, pendingInvalidations: 5, l2Held: true })
      expect(degraded.oldestPendingMs).toBeGreaterThan(0)
      const text = prometheusMetrics(a)
      expect(text).toContain(`ayala_cache_degraded{namespace="${ns}"} 1`)
      expect(text).toContain(`ayala_cache_pending_invalidations{namespace="${ns}"} 5`)
      expect(timeline.events.map((e) => e.state)).toEqual(expect.arrayContaining(['degraded', 'held']))

      proxy.restore()
      expect(await eventually(() => !a.stats().degraded && !strict.stats().degraded, 20_000)).toBe(true)
      expect(strict.stats().invalidationReplays).toBeGreaterThanOrEqual(1)
      const recovered = a.stats()
      expect(recovered).toMatchObject({ degraded: false, pendingInvalidations: 0, oldestPendingMs: 0 })
      expect(recovered.invalidationReplays).toBeGreaterThanOrEqual(1)
      expect(recovered.replayedInvalidations).toBeGreaterThanOrEqual(5)
      expect(prometheusMetrics(a)).toContain(`ayala_cache_degraded{namespace="${ns}"} 0`)
      expect(timeline.events.find((e) => e.state === 'recovered')).toMatchObject({ pending: 0 })
      expect(await eventually(() => !a.stats().l2Held, 20_000)).toBe(true)
      expect(timeline.events.map((e) => e.state)).toContain('released')
    } finally {
      timeline.stop()
    }
    // Every effect reached Redis: a third instance (whose L1 is empty) and the keys themselves.
    const entry = (key: string) => `{${ns}}:e:${key}`
    expect(await admin?.exists(entry('deleted'))).toBe(0)
    expect(await admin?.exists(entry('overwritten'))).toBe(0)
    expect(await admin?.exists(entry('expired'))).toBe(1) // demoted, kept as a fallback
    // strict's clear() (resolved by the call's choice) bumped its namespace's generation.
    expect(Number(await admin?.get(`{${strictNs}}:g`))).toBeGreaterThan(0)
    expect(Number((await admin?.get(`{${ns}}:g`)) ?? 0)).toBe(0)
    expect(Number(await admin?.get(`{${ns}}:t:t1`))).toBeGreaterThan(0)
    expect(Number(await admin?.get(`{${ns}}:t:t2`))).toBeGreaterThan(0)
    for (const key of ['deleted', 'expired', 'overwritten', 'tagged'])
      expect(await c.get(key), key).toBeUndefined()
    expect(await c.get('untouched')).toBe('v1')
    expect(await c.getOrSet('expired', () => 'v2')).toBe('v2')
  })

  it('close() with invalidations still pending tries once more and reports what it drops', async () => {
    const { proxy, ns, make } = await setUp()
    const a = make()
    expect(await eventually(() => a.busConnected)).toBe(true)
    const timeline = recoveryEvents(ns)
    try {
      proxy.cut()
      expect(await eventually(() => !a.busConnected)).toBe(true)
      await a.invalidateTags(['t1', 't2'])
      await a.close()
      expect(timeline.events.at(-1)).toMatchObject({ state: 'dropped', pending: 2 })
    } finally {
      timeline.stop()
    }
  })
})
