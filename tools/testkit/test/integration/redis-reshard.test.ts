/**
 * reshardSlots on a private cluster: a slot holding keys moves to another master and back while a
 * client keeps reading and writing them; every key keeps its value, the servers counted ASK
 * redirections the client followed (the window was really open) and MOVED once it closed.
 */
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
} from '../../src/index.ts'

describe('reshardSlots', () => {
  let cluster: RedisCluster
  let client: Cluster

  beforeAll(async () => {
    cluster = await startRedisCluster()
    client = new Cluster([...cluster.nodes])
  })
  afterAll(async () => {
    await client?.quit()
    await cluster?.dispose()
  })

  it('moves a slot with its keys there and back under load; clients are redirected', async () => {
    const tag = `{${uniqueName('reshard')}}`
    const slot = await keySlot(cluster, tag)
    const keys = Array.from({ length: 200 }, (_, i) => `${tag}:${i}`)
    for (const key of keys) await client.set(key, '0')
    const home = await slotOwner(cluster, slot)
    const other = (await clusterMasters(cluster)).find((m) => m.port !== home.port)
    if (other === undefined) throw new Error('no second master')
    const before = await redirectionCounts(cluster)

    // One writer: INCR every key in turn; the expected values are counted on this side.
    const expected = new Map(keys.map((key) => [key, 0]))
    let running = true
    let failures = 0
    const load = (async () => {
      for (let i = 0; running; i++) {
        const key = keys[i % keys.length] as string
        try {
          await client.incr(key)
          expected.set(key, (expected.get(key) ?? 0) + 1)
        } catch {
          failures++
        }
      }
    })()

    const there = await reshardSlots(cluster, { slots: [slot], to: other, batchSize: 5, batchPauseMs: 10 })
    expect(there.slots).toEqual([slot])
    expect(there.keysMoved).toBeGreaterThanOrEqual(keys.length)
    expect(await slotOwner(cluster, slot)).toEqual(other)
    const back = await reshardSlots(cluster, { slots: [slot], from: other, to: home, batchPauseMs: 10 })
    expect(back.keysMoved).toBeGreaterThanOrEqual(keys.length)
    expect(await slotOwner(cluster, slot)).toEqual(home)
    running = false
    await load

    const after = await redirectionCounts(cluster)
    expect(after.asking - before.asking).toBeGreaterThan(0)
    expect(after.moved - before.moved).toBeGreaterThan(0)
    expect(failures).toBe(0)
    const values = await client.mget(...keys)
    expect(values.map(Number)).toEqual(keys.map((key) => expected.get(key)))
    // Moving a slot to the master that owns it is nothing to do.
    expect((await reshardSlots(cluster, { slots: [slot], to: home })).slots).toEqual([])
  })

  it('openSlotMigration splits a slot key by key: ASK for a moved key, TRYAGAIN for a split MGET', async () => {
    const tag = `{${uniqueName('split')}}`
    const slot = await keySlot(cluster, tag)
    await client.set(`${tag}:moved`, 'a')
    await client.set(`${tag}:stays`, 'b')
    const home = await slotOwner(cluster, slot)
    const other = (await clusterMasters(cluster)).find((m) => m.port !== home.port)
    if (other === undefined) throw new Error('no second master')
    const before = await redirectionCounts(cluster)
    const migration = await openSlotMigration(cluster, { slots: [slot], to: other })
    try {
      expect(await migration.migrateKeys([`${tag}:moved`, `${tag}:absent`])).toBe(1)
      expect(await client.get(`${tag}:moved`)).toBe('a') // followed ASK to the target
      expect(await client.get(`${tag}:stays`)).toBe('b') // still served by the source
      // The source refuses a multi-key command whose keys the migration split: TRYAGAIN. Asked
      // directly, so that the answer is the server's and not how ioredis retries it (a Cluster
      // client retries TRYAGAIN, and on a loaded machine its last try may meet a MOVED instead).
      const source = new Redis({ host: home.host || '127.0.0.1', port: home.port, maxRetriesPerRequest: 0 })
      try {
        const direct = await source.mget(`${tag}:moved`, `${tag}:stays`).then(
          () => 'answered',
          (error: Error) => error.message,
        )
        expect(direct).toMatch(/^TRYAGAIN/)
      } finally {
        source.disconnect()
      }
      // Through the Cluster client: refused too, never answered with one key missing.
      const split = await client.mget(`${tag}:moved`, `${tag}:stays`).then(
        () => 'answered',
        (error: Error) => error.message,
      )
      expect(split).toMatch(/TRYAGAIN|Too many Cluster redirections/)
      const mid = await redirectionCounts(cluster)
      expect(mid.asking - before.asking).toBeGreaterThan(0)
      expect(mid.tryAgain - before.tryAgain).toBeGreaterThan(0)
      expect((await migration.migrateAll()).keysMoved).toBe(1)
      expect(await migration.finish()).toBeGreaterThan(0)
    } finally {
      migration.close()
    }
    expect(await slotOwner(cluster, slot)).toEqual(other)
    expect(await client.mget(`${tag}:moved`, `${tag}:stays`)).toEqual(['a', 'b'])
  })
})
