/**
 * A read in flight while the bus drops and comes back. Pub/sub keeps nothing for a disconnected
 * subscriber, so the instance demotes its L1 when the bus drops and again when it is back. A read
 * sent before that and answered after it carries what Redis held before a write whose notice was
 * lost; before, its fill entered L1 as fresh (stamped with the demotion count at the fill, after
 * the reconnect) and the next reads were served the replaced value for `l1Ttl`.
 *
 * Set-up, real Redis throughout: the reader's own ioredis client holds back the reply of the MGET
 * that reads the key (Redis has executed it: the reply is the value before the write); the
 * reader's bus subscriber is killed with `CLIENT KILL` (found by its connection name); a writer
 * instance sets the key (its notice reaches no reader); the subscriber reconnects; the held reply
 * is let go. Then the key is read 20 times: stale reads counted, 0 is the assertion. The same for
 * each path that fills L1 from a read or a load: `get`, `getMany`, `getOrSet` (an L2 hit),
 * `getOrSet` (a load), `getOrSetMany` (a load).
 */
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import type { CacheStack } from '../../../src/cache-stack.js'
import type { Cache } from '../../../src/index.js'
import { deferred, eventually, Fixture } from '../../helpers/fixture.js'

const stackOf = (cache: Cache) => (cache as unknown as { stack: CacheStack }).stack

/** An ioredis client whose MGET replies naming `key` are held until `release()`. */
function holdingClient(url: string, name: string) {
  const client = new Redis(url, { connectionName: name })
  let match: string | undefined
  const held: Array<() => void> = []
  const send = client.sendCommand.bind(client)
  client.sendCommand = ((command: { name: string; args: unknown[] }, ...rest: unknown[]) => {
    const reply = (send as (...args: unknown[]) => Promise<unknown>)(command, ...rest)
    if (match === undefined || command.name !== 'mget' || !command.args.some((a) => String(a) === match))
      return reply
    const gate = deferred()
    held.push(() => gate.resolve())
    return reply.then(async (value) => {
      await gate.promise
      return value
    })
  }) as typeof client.sendCommand
  return {
    client,
    hold(entryKey: string) {
      match = entryKey
    },
    /** The held replies so far (each already answered by Redis). */
    held: () => held.length,
    release() {
      match = undefined
      for (const go of held.splice(0)) go()
    },
  }
}

type Path = 'get' | 'getMany' | 'getOrSet (L2 hit)' | 'getOrSet (load)' | 'getOrSetMany (load)'

describe('a read in flight across a bus reconnect', () => {
  const fx = new Fixture()
  const clients: Redis[] = []
  afterEach(() => fx.closeCaches())
  afterAll(async () => {
    for (const c of clients) c.disconnect()
    await fx.dispose()
  })

  it.each<Path>(['get', 'getMany', 'getOrSet (L2 hit)', 'getOrSet (load)', 'getOrSetMany (load)'])(
    '%s: the value read before the drop is not served as fresh after the reconnect',
    async (path) => {
      const namespace = fx.namespace()
      const name = `fill-reconnect-${randomUUID().slice(0, 8)}`
      const holding = holdingClient(fx.url, name)
      clients.push(holding.client)
      // A long redisTimeout: the held reply must not time out; a long l1Ttl: the hole is what
      // L1 serves until it expires.
      const reader = fx.cache({ namespace, redis: holding.client, redisTimeout: '20s', l1Ttl: '1m' })
      const writer = fx.cache({ namespace })
      const key = 'invoice:7'
      const loads = path.endsWith('(load)')
      // The database: what a loader reads. A load reads it at once, then waits for the gate.
      let row = 'v1'
      const loaderGate = deferred()
      const loaderCalled = deferred()
      const read = async () => {
        const value = row
        loaderCalled.resolve()
        await loaderGate.promise
        return value
      }
      if (!loads) await writer.set(key, 'v1')
      await eventually(() => stackOf(reader).bus?.connected === true)
      const before = stackOf(reader).demotions

      // 1. The read in flight: its MGET answered by Redis (v1) and held back; or, for a load (the
      //    key is not cached), its loader has read v1 from the database and not returned yet.
      if (!loads) holding.hold(stackOf(reader).keys.entry(key))
      const first =
        path === 'get'
          ? reader.get(key)
          : path === 'getMany'
            ? reader.getMany([key]).then((v) => v[0])
            : path === 'getOrSetMany (load)'
              ? reader.getOrSetMany([key], async (keys) => Promise.all(keys.map(read))).then((v) => v[0])
              : reader.getOrSet(key, read)
      if (loads) await loaderCalled.promise
      else expect(await eventually(() => holding.held() > 0)).toBe(true)

      // 2. The reader's subscriber killed: its bus drops (and reconnects by itself).
      const admin = new Redis(fx.url)
      clients.push(admin)
      const list = String(await admin.client('LIST'))
      const subscriber = list
        .split('\n')
        .find((line) => line.includes(` name=${name} `) && /\bflags=\S*P/.test(line))
      expect(subscriber).toBeDefined()
      const id = /\bid=(\d+)/.exec(subscriber as string)?.[1]
      await admin.client('KILL', 'ID', id as string)
      expect(await eventually(() => stackOf(reader).demotions > before)).toBe(true)

      // 3. The write, whose notice the reader cannot receive.
      row = 'v2'
      await writer.set(key, 'v2')

      // 4. The subscriber back, then the held reply (or the loader) let go.
      expect(await eventually(() => stackOf(reader).bus?.connected === true)).toBe(true)
      expect(stackOf(reader).demotions).toBe(before + 2)
      holding.release()
      loaderGate.resolve()
      // The read itself answers as of when it started (v1: before the write).
      expect(await first).toBe('v1')
      // Auto-recovery holds L2 after a lost link (a peer may replay invalidations meanwhile); a
      // stale value served then is a grace fallback, counted in staleServed. Wait it out.
      expect(await eventually(() => !reader.stats().l2Held)).toBe(true)

      // 5. Every read from now on sees v2.
      let stale = 0
      for (let i = 0; i < 20; i++) {
        const value =
          path === 'get' || path === 'getOrSet (L2 hit)'
            ? await reader.get(key)
            : path === 'getMany'
              ? (await reader.getMany([key]))[0]
              : await reader.getOrSet(key, async () => row)
        if (value !== 'v2') stale++
      }
      expect(stale).toBe(0)
    },
  )
})
