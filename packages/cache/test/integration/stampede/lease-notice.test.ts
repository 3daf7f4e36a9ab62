import type { Redis } from 'ioredis'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { type Cache, type CacheOptions, createCache } from '../../../src/index.js'
import { countingClient, deferred, eventually, Fixture, sleep } from '../../helpers/fixture.js'

describe('lease waiters wake on the release notice (two instances, separate connections)', () => {
  const fx = new Fixture()
  const clients: Redis[] = []
  const owned: Cache[] = []
  afterEach(async () => {
    await Promise.all(owned.splice(0).map((c) => c.close()))
    await fx.closeCaches()
    for (const c of clients.splice(0)) c.disconnect()
  })
  afterAll(() => fx.dispose())

  /**
   * Two instances of one namespace, the waiter on a connection of its own that records its
   * commands. A tiny poll period: a waiter that polled would send many commands while a load
   * runs. A wait longer than the test's timeout: a waiter not woken by the notice fails the test.
   */
  async function holderAndWaiter() {
    const options: CacheOptions = {
      namespace: fx.namespace(),
      lease: true,
      leaseWaitTimeout: '10m',
      leasePollInterval: 2,
      redisTimeout: '5s',
    }
    const holder = fx.cache(options)
    const { client, commands } = countingClient()
    clients.push(client)
    const waiter = createCache({ redis: client, ...options })
    owned.push(waiter)
    await eventually(() => holder.busConnected && waiter.busConnected)
    return { holder, waiter, commands }
  }

  it('waiters get the holder value with no extra loader call and no polling while the bus is up', async () => {
    const { holder, waiter, commands } = await holderAndWaiter()

    const release = deferred()
    const started = deferred()
    let holderCalls = 0
    let waiterCalls = 0
    const held = holder.getOrSet(
      'report',
      async () => {
        holderCalls++
        started.resolve()
        await release.promise
        return { total: 42 }
      },
      { tags: ['reports'] },
    )
    await started.promise
    commands.length = 0
    const waiting = Array.from({ length: 50 }, () =>
      waiter.getOrSet(
        'report',
        async () => {
          waiterCalls++
          return { total: -1 }
        },
        { tags: ['reports'] },
      ),
    )
    expect(await eventually(() => waiter.stats().leaseWaits === 1)).toBe(true)
    await sleep(100) // a polling waiter (every 2 ms) would show up in `commands` now
    release.resolve()
    expect(await held).toEqual({ total: 42 })
    expect(await Promise.all(waiting)).toEqual(Array(50).fill({ total: 42 }))
    expect([holderCalls, waiterCalls]).toEqual([1, 0])
    expect(waiter.stats().coalesced).toBe(49) // one flight, one waiter
    // Miss read, SET NX, one check on registering, one check after the notice: nothing else.
    expect(commands.filter((c) => c === 'exists')).toHaveLength(2)
    expect(commands.filter((c) => c === 'evalsha' || c === 'eval')).toHaveLength(0)
    expect(waiter.stats().busIn).toBeGreaterThanOrEqual(1) // the release notice
  })

  it('a holder whose loader fails notifies too: the waiter loads itself at once', async () => {
    const { holder, waiter, commands } = await holderAndWaiter()
    const release = deferred()
    const started = deferred()
    const failed = holder
      .getOrSet('k', async () => {
        started.resolve()
        await release.promise
        throw new Error('database down')
      })
      .catch((error: Error) => error.message)
    await started.promise
    let waiterCalls = 0
    const waiting = waiter.getOrSet('k', async () => {
      waiterCalls++
      return 'loaded by the waiter'
    })
    expect(await eventually(() => waiter.stats().leaseWaits === 1)).toBe(true)
    commands.length = 0
    await sleep(100)
    expect(commands).toEqual([]) // waiting on the bus, not polling
    release.resolve()
    expect(await failed).toBe('database down')
    expect(await waiting).toBe('loaded by the waiter')
    expect(waiterCalls).toBe(1)
  })

  it('without a bus, waiters fall back to polling and still get the value without a loader call', async () => {
    const ns = fx.namespace()
    const options: CacheOptions = {
      namespace: ns,
      lease: true,
      leaseWaitTimeout: '20s',
      leasePollInterval: 5,
      redisTimeout: '5s',
      bus: false,
    }
    const holder = fx.cache(options)
    const { client, commands } = countingClient()
    clients.push(client)
    const waiter = createCache({ redis: client, ...options })
    owned.push(waiter)
    const release = deferred()
    const started = deferred()
    let calls = 0
    const held = holder.getOrSet('k', async () => {
      calls++
      started.resolve()
      await release.promise
      return 'v'
    })
    await started.promise
    const waiting = waiter.getOrSet('k', async () => {
      calls++
      return 'other'
    })
    expect(await eventually(() => commands.filter((c) => c === 'exists').length >= 3)).toBe(true)
    release.resolve()
    expect([await held, await waiting]).toEqual(['v', 'v'])
    expect(calls).toBe(1)
    expect(waiter.stats().leaseWaits).toBe(1)
  })
})
