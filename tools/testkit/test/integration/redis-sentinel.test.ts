import { connect } from 'node:net'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisSentinel, startRedisSentinel, uniqueName } from '../../src/index.ts'

/** Whether something accepts TCP connections on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

/** A direct client of one node (no Sentinel), for looking at what that node holds. */
async function onNode<T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await client.connect()
    return await fn(client)
  } finally {
    client.disconnect()
  }
}

/** Retry `fn` until it resolves (the client reconnects through the Sentinels), within `ms`. */
async function eventually<T>(fn: () => Promise<T>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return await fn()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

describe('startRedisSentinel', () => {
  let topology: RedisSentinel
  let client: Redis

  beforeAll(async () => {
    topology = await startRedisSentinel()
    client = new Redis({
      sentinels: [...topology.sentinels],
      name: topology.masterName,
      maxRetriesPerRequest: 2,
    })
    client.on('error', () => undefined)
  })
  afterAll(async () => {
    client?.disconnect()
    await topology?.dispose()
  })

  it('runs a primary, a replica and three Sentinels on distinct loopback ports', async () => {
    expect(topology.sentinels).toHaveLength(3)
    expect(topology.nodes).toHaveLength(2)
    const ports = [...topology.sentinels, ...topology.nodes].map((a) => a.port)
    expect(new Set(ports).size).toBe(5)
    expect(await topology.master()).toEqual(topology.nodes[0])
    const [primary, replica] = topology.nodes
    expect(await onNode(primary.port, (c) => c.info('replication'))).toMatch(/^role:master/m)
    expect(await onNode(replica.port, (c) => c.info('replication'))).toMatch(/^role:slave/m)
  })

  it('promotes the replica when the primary is killed; writes the proxy held are lost', async () => {
    const prefix = uniqueName('sentinel')
    await client.set(`${prefix}:before`, '1')
    // Replicated before the link is proxied: the replica holds it.
    expect(await client.wait(1, 10_000)).toBe(1)

    const link = await topology.replicaLink()
    link.blackhole()
    await client.set(`${prefix}:lagged`, '1')
    // The replica does not acknowledge it: the write lives on the primary only.
    expect(await client.wait(1, 300)).toBe(0)

    const old = await topology.killPrimary()
    expect(old).toEqual(topology.nodes[0])
    const promoted = await topology.waitForPromotion(old)
    expect(promoted).toEqual(topology.nodes[1])
    expect(await topology.master()).toEqual(promoted)

    // The client follows the Sentinels to the new primary: the replicated write is there, the
    // one the proxy held back is not.
    expect(await eventually(() => client.get(`${prefix}:before`))).toBe('1')
    expect(await client.get(`${prefix}:lagged`)).toBeNull()
    await client.set(`${prefix}:after`, '1')
  })

  it('restarts the old primary as a replica of the new one, and fails over again', async () => {
    const prefix = uniqueName('sentinel')
    const [first, second] = topology.nodes
    await topology.restart(first)
    expect(await onNode(first.port, (c) => c.info('replication'))).toMatch(
      new RegExp(`^master_port:${second.port}\\s*$`, 'm'),
    )
    await eventually(() => client.set(`${prefix}:k`, 'v'))
    expect(await client.wait(1, 10_000)).toBe(1)
    expect(await onNode(first.port, (c) => c.get(`${prefix}:k`))).toBe('v')

    // A second failover right after the first one (Sentinel resets its failover clock on a switch).
    const old = await topology.killPrimary()
    expect(old).toEqual(second)
    expect(await topology.waitForPromotion(old)).toEqual(first)
    expect(await eventually(() => client.get(`${prefix}:k`))).toBe('v')
  })

  it('dispose kills every process and is safe to call twice', async () => {
    const own = await startRedisSentinel({ masterName: 'own' })
    await own.dispose()
    await own.dispose()
    const all = [...own.nodes, ...own.sentinels]
    expect(await Promise.all(all.map((a) => accepts(a.port)))).toEqual(all.map(() => false))
  })
})
