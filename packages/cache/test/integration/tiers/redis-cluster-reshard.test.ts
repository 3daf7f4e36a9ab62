/**
 * Redis Cluster with the namespace's hash slot moving between masters (testkit's
 * openSlotMigration / reshardSlots: SETSLOT IMPORTING/MIGRATING, MIGRATE in batches, SETSLOT
 * NODE) while caches read and write it.
 *
 * During a move the slot is split: keys already moved are answered `ASK` by the source, a
 * command whose keys sit on both sides `TRYAGAIN`. A script that reads keys it did not declare
 * (the read script's tag versions) escapes those checks: sent to the target by `ASK` it reads a
 * tag key still on the source as absent (version 0). The split test puts exactly that case on
 * the cluster; the load test moves the slot back and forth under two instances' reads, writes,
 * tag invalidations and bus notices and counts stale reads (0) and redirections (> 0).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import {
  clusterMasters,
  keySlot,
  openSlotMigration,
  type RedisCluster,
  redirectionCounts,
  reshardSlots,
  slotOwner,
  startRedisCluster,
  uniqueName,
} from '@ayala/testkit'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CACHE_CHANNELS, type Cache, type CacheOptions, createCache } from '../../../src/index.js'
import { eventually, sleep } from '../../helpers/fixture.js'

interface Invoice {
  id: number
  version: number
}

/**
 * The database of the load test. A write commits a new version (what loaders read); its
 * invalidation returning to the writer raises the writer's floor, and the bus notice reaching
 * the other instance raises that instance's floor: no read started after that may see less.
 */
class Truth {
  readonly rows = new Map<number, Invoice>()
  /** Per instance name, per invoice: the version whose invalidation that instance was told of. */
  readonly floors = new Map<string, Map<number, number>>()
  loads = 0
  constructor(count: number, instances: readonly string[]) {
    for (let id = 1; id <= count; id++) this.rows.set(id, { id, version: 1 })
    for (const name of instances) this.floors.set(name, new Map([...this.rows.keys()].map((id) => [id, 1])))
  }
  write(id: number): number {
    const version = (this.rows.get(id) as Invoice).version + 1
    this.rows.set(id, { id, version })
    return version
  }
  raise(instance: string, id: number, version: number): void {
    const floor = this.floors.get(instance) as Map<number, number>
    if (version > (floor.get(id) as number)) floor.set(id, version)
  }
  floor(instance: string, id: number): number {
    return (this.floors.get(instance) as Map<number, number>).get(id) as number
  }
  load(id: number): Invoice {
    this.loads++
    return { ...(this.rows.get(id) as Invoice) }
  }
}

/** Reads through one instance (getOrSet, getMany, getOrSetMany): served, failed and stale counted. */
class Reader {
  served = 0
  failed = 0
  stale = 0
  /** getMany / getOrSetMany values that are not the truth at some moment of the call. */
  wrong = 0
  constructor(
    readonly name: string,
    readonly cache: Cache,
    private readonly truth: Truth,
  ) {}
  private check(id: number, floor: number, value: Invoice | undefined, allowMissing: boolean): void {
    if (value === undefined) {
      if (!allowMissing) this.wrong++
      return
    }
    if (value.id !== id || value.version > (this.truth.rows.get(id) as Invoice).version) this.wrong++
    if (value.version < floor) this.stale++
  }
  async one(id: number): Promise<void> {
    const floor = this.truth.floor(this.name, id)
    try {
      const value = await this.cache.getOrSet<Invoice>(`invoice:${id}`, () => this.truth.load(id), {
        tags: [`invoice:${id}`, `client:${id % 4}`],
      })
      this.served++
      this.check(id, floor, value, false)
    } catch {
      this.failed++
    }
  }
  async many(ids: readonly number[]): Promise<void> {
    const floors = ids.map((id) => this.truth.floor(this.name, id))
    try {
      const values = await this.cache.getMany<Invoice>(ids.map((id) => `invoice:${id}`))
      this.served++
      for (const [i, id] of ids.entries()) this.check(id, floors[i] as number, values[i], true)
    } catch {
      this.failed++
    }
  }
  async loadMany(ids: readonly number[]): Promise<void> {
    const floors = ids.map((id) => this.truth.floor(this.name, id))
    try {
      const values = await this.cache.getOrSetMany<Invoice>(
        ids.map((id) => `invoice:${id}`),
        async (missing) => missing.map((key) => this.truth.load(Number(key.split(':')[1]))),
        { tags: (key) => [key, `client:${Number(key.split(':')[1]) % 4}`] },
      )
      this.served++
      for (const [i, id] of ids.entries()) this.check(id, floors[i] as number, values[i], false)
    } catch {
      this.failed++
    }
  }
}

const report = process.env.AYALA_FAILOVER_REPORT === '1'

describe('on Redis Cluster while the namespace slot moves', () => {
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

  function clusterCache(namespace: string, options: CacheOptions = {}): Cache {
    const client = new Cluster([...cluster.nodes])
    clients.push(client)
    const cache = createCache({ redis: client, namespace, redisTimeout: '5s', ...options })
    caches.push(cache)
    return cache
  }

  /** The other master than the one owning `slot`. */
  async function otherMaster(slot: number) {
    const home = await slotOwner(cluster, slot)
    const other = (await clusterMasters(cluster)).find((m) => m.port !== home.port)
    if (other === undefined) throw new Error('no second master')
    return other
  }

  it('an entry moved before its tag key is not served fresh after the tag was invalidated', async () => {
    const ns = uniqueName('cache')
    const slot = await keySlot(cluster, `{${ns}}`)
    const writer = clusterCache(ns)
    await writer.getOrSet('a', async () => 'a-v1', { tags: ['t'] })
    await writer.getOrSet('b', async () => 'b-v1', { tags: ['t'] })
    await writer.invalidateTags(['t']) // acknowledged: the tag's version is raised on Redis
    const before = await redirectionCounts(cluster)
    const migration = await openSlotMigration(cluster, { slots: [slot], to: await otherMaster(slot) })
    try {
      // The entries go first; the tag version key `{ns}:t:t` stays on the source for now.
      expect(await migration.migrateKeys([`{${ns}}:e:a`, `{${ns}}:e:b`])).toBe(2)
      const cold = clusterCache(ns) // nothing in L1, nothing known about the tags
      const many = await cold.getMany(['a', 'b'])
      const coldOne = clusterCache(ns)
      const one = await coldOne.get('a')
      expect(many).toEqual([undefined, undefined])
      expect(one).toBeUndefined()
      // Refused while the slot is split (TRYAGAIN until ioredis gives up), not answered wrong.
      expect(cold.stats().l2Errors).toBeGreaterThan(0)
      expect(coldOne.stats().l2Errors).toBeGreaterThan(0)
      await migration.migrateAll()
      await migration.finish()
    } finally {
      migration.close()
    }
    const after = await redirectionCounts(cluster)
    expect(after.asking - before.asking).toBeGreaterThan(0)
    expect(after.tryAgain - before.tryAgain).toBeGreaterThan(0)
    expect(await clusterCache(ns).getMany(['a', 'b'])).toEqual([undefined, undefined])
    expect(await eventually(async () => (await writer.get('a')) === undefined)).toBe(true)
  })

  it('tags, getMany, invalidations and the bus stay right while the slot moves back and forth under load', async () => {
    const ns = uniqueName('cache')
    const slot = await keySlot(cluster, `{${ns}}`)
    const home = await slotOwner(cluster, slot)
    const away = await otherMaster(slot)
    // Many invoices, each changed about once during the test: most invalidations are a tag's
    // first, over entries stamped with version 0 (the common case of a real cache).
    const truth = new Truth(300, ['a', 'b'])
    const ids = [...truth.rows.keys()]
    // A keeps its L1 for long (the bus must drop it); B's lives 20 ms, so B reads L2 all the time.
    // The default redisTimeout (50 ms): a read the split slot refuses (TRYAGAIN) is a quick miss.
    const a = new Reader(
      'a',
      clusterCache(ns, { ttl: '10m', l1Ttl: '10m', tagTrust: '10m', redisTimeout: '50ms' }),
      truth,
    )
    const b = new Reader(
      'b',
      clusterCache(ns, { ttl: '10m', l1Ttl: '20ms', tagTrust: '10m', redisTimeout: '50ms' }),
      truth,
    )
    expect(await eventually(() => a.cache.busConnected && b.cache.busConnected, 20_000)).toBe(true)

    // B's receipt of A's tag notices, per tag suffix (diagnostics channel of the bus).
    const heardByB = new Map<string, number>()
    const onBus = (event: unknown) => {
      const { namespace, direction, message } = event as {
        namespace: string
        direction: string
        message: { i: string; t?: Array<[string, number]> }
      }
      if (namespace !== ns || direction !== 'in' || message.i !== a.cache.instanceId) return
      for (const [suffix] of message.t ?? []) heardByB.set(suffix, (heardByB.get(suffix) ?? 0) + 1)
    }
    subscribe(CACHE_CHANNELS.bus, onBus)

    // Warm both instances and L2.
    await a.loadMany(ids)
    await b.loadMany(ids)
    const before = await redirectionCounts(cluster)

    let running = true
    const counts = { invalidations: 0, rejected: 0, lostNotices: 0 }
    /** Invalidate `tags` through A until it is acknowledged, then wait for B to hear it. */
    const invalidate = async (tags: string[], written: Array<[number, number]>) => {
      const heard = tags.map((tag) => heardByB.get(`t:${tag}`) ?? 0)
      for (;;) {
        try {
          await a.cache.invalidateTags(tags, { onL2Unavailable: 'reject' })
          break
        } catch {
          counts.rejected++ // applied to A, kept for its replay; told again until acknowledged
          await sleep(20)
        }
      }
      counts.invalidations++
      for (const [id, version] of written) truth.raise('a', id, version)
      const told = await eventually(
        () => tags.every((tag, i) => (heardByB.get(`t:${tag}`) ?? 0) > (heard[i] as number)),
        10_000,
      )
      if (!told) counts.lostNotices++
      else for (const [id, version] of written) truth.raise('b', id, version)
    }
    const writeLoad = (async () => {
      for (let n = 0; running; n++) {
        if (n % 10 === 9) {
          const group = n % 4
          const members = ids.filter((id) => id % 4 === group)
          await invalidate(
            [`client:${group}`],
            members.map((id) => [id, truth.write(id)]),
          )
        } else {
          // 7919 is prime to 300: every invoice once, in a scattered order, then again.
          const id = ids[(n * 7919) % ids.length] as number
          await invalidate([`invoice:${id}`], [[id, truth.write(id)]])
        }
        await sleep(5)
      }
    })()
    const readLoad = (reader: Reader, offset: number) =>
      (async () => {
        for (let n = offset; running; n++) {
          const at = (k: number) => ids[(n * 3 + k) % ids.length] as number
          if (n % 4 === 0) await reader.one(at(0))
          await reader.many([at(0)])
          await reader.many([at(1), at(2)])
          await reader.many([at(3), at(4), at(5), at(6)])
          if (n % 8 === 0) await reader.loadMany([at(7), at(8), at(9)])
          await sleep(1)
        }
      })()
    const reads = [readLoad(a, 0), readLoad(b, 17)]

    // The namespace's slot: away, back, away, back (each move's window held open >= 1.5 s).
    const moves = []
    for (const to of [away, home, away, home]) {
      moves.push(
        await reshardSlots(cluster, {
          slots: [slot],
          to,
          batchSize: 10,
          batchPauseMs: 10,
          holdOpenMs: 1_500,
        }),
      )
      await sleep(300)
    }
    running = false
    await Promise.all([writeLoad, ...reads])
    unsubscribe(CACHE_CHANNELS.bus, onBus)
    const after = await redirectionCounts(cluster)

    // Every instance heals by itself, then everything reads as the truth, through A, B and a
    // fresh instance (no invalidation lost anywhere).
    const healed = () =>
      [a, b].every(
        ({ cache }) => !cache.stats().degraded && !cache.stats().l2Held && cache.stats().breaker === 'closed',
      )
    expect(await eventually(healed, 30_000)).toBe(true)
    const fresh = new Reader('a', clusterCache(ns), truth)
    const current = (id: number) => (truth.rows.get(id) as Invoice).version
    for (const reader of [fresh, a, b]) {
      const values = await reader.cache.getOrSetMany<Invoice>(
        ids.map((id) => `invoice:${id}`),
        async (missing) => missing.map((key) => truth.load(Number(key.split(':')[1]))),
      )
      expect(values.map((v) => v.version)).toEqual(ids.map(current))
      const peeked = await reader.cache.getMany<Invoice>(ids.map((id) => `invoice:${id}`))
      expect(peeked.map((v) => v?.version)).toEqual(ids.map(current))
    }

    const figures = {
      moves: moves.length,
      keysMoved: moves.reduce((sum, m) => sum + m.keysMoved, 0),
      openMs: Math.round(moves.reduce((sum, m) => sum + m.openMs, 0)),
      served: a.served + b.served,
      failed: a.failed + b.failed,
      stale: a.stale + b.stale,
      wrong: a.wrong + b.wrong,
      ...counts,
      loads: truth.loads,
      l2Hits: a.cache.stats().l2Hits + b.cache.stats().l2Hits,
      l2Errors: a.cache.stats().l2Errors + b.cache.stats().l2Errors,
      asking: after.asking - before.asking,
      moved: after.moved - before.moved,
      ask: after.ask - before.ask,
      tryAgain: after.tryAgain - before.tryAgain,
    }
    if (report) console.info(`[cache reshard] ${JSON.stringify(figures)}`)
    expect(moves.every((m) => m.slots.length === 1 && m.keysMoved > 0)).toBe(true)
    expect({ stale: figures.stale, wrong: figures.wrong, failed: figures.failed }).toEqual({
      stale: 0,
      wrong: 0,
      failed: 0,
    })
    expect(figures.lostNotices).toBe(0)
    expect(figures.invalidations).toBeGreaterThan(0)
    // The clients really were redirected: ASK followed during the windows, MOVED after them.
    expect(figures.asking).toBeGreaterThan(0)
    expect(figures.moved).toBeGreaterThan(0)
    expect(figures.l2Hits).toBeGreaterThan(0)
  }, 120_000)
})
