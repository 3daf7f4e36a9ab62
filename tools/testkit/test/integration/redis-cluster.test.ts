import { connect } from 'node:net'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RedisCluster, startRedisCluster, uniqueName } from '../../src/index.ts'

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

describe('startRedisCluster', () => {
  let cluster: RedisCluster
  let client: Cluster

  beforeAll(async () => {
    cluster = await startRedisCluster()
    client = new Cluster([...cluster.nodes], { redisOptions: { maxRetriesPerRequest: 3 } })
  })
  afterAll(async () => {
    await client?.quit()
    await cluster?.dispose()
  })

  it('runs three masters and three replicas on distinct loopback ports', async () => {
    expect(cluster.nodes).toHaveLength(6)
    expect(new Set(cluster.nodes.map((node) => node.port)).size).toBe(6)
    expect(cluster.urls).toEqual(cluster.nodes.map((node) => `redis://127.0.0.1:${node.port}`))

    const first = new Redis(cluster.urls[0] as string)
    try {
      const lines = ((await first.call('CLUSTER', 'NODES')) as string).trim().split('\n')
      const flags = lines.map((line) => line.split(' ')[2] ?? '')
      expect(flags.filter((f) => f.includes('master'))).toHaveLength(3)
      expect(flags.filter((f) => f.includes('slave'))).toHaveLength(3)
    } finally {
      first.disconnect()
    }
  })

  it('stores keys of different slots on different masters and reads them back', async () => {
    const prefix = uniqueName('cluster')
    const keys = Array.from({ length: 30 }, (_, i) => `${prefix}:${i}`)
    for (const key of keys) await client.set(key, `value of ${key}`)
    for (const key of keys) expect(await client.get(key)).toBe(`value of ${key}`)

    const slots = await Promise.all(keys.map((key) => client.call('CLUSTER', 'KEYSLOT', key)))
    expect(new Set(slots).size).toBeGreaterThan(1)

    // Every master holds some of them: 30 random slots on three equal shares.
    const perMaster = await Promise.all(client.nodes('master').map((node) => node.dbsize()))
    expect(perMaster).toHaveLength(3)
    expect(perMaster.every((size) => size > 0)).toBe(true)

    await Promise.all(keys.map((key) => client.del(key)))
  })

  it('runs a Lua script over keys that share a hash tag, and refuses one across slots', async () => {
    const tag = `{${uniqueName('tag')}}`
    const keys = [`${tag}:a`, `${tag}:b`, `${tag}:c`]
    const script = `
      for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i]) end
      local sum = 0
      for _, key in ipairs(KEYS) do sum = sum + tonumber(redis.call('GET', key)) end
      return sum`
    expect(await client.eval(script, keys.length, ...keys, '1', '2', '3')).toBe(6)
    expect(await client.mget(...keys)).toEqual(['1', '2', '3'])

    const prefix = uniqueName('untagged')
    await expect(client.eval(script, 2, `${prefix}:a`, `${prefix}:zz`, '1', '2')).rejects.toThrow(
      /CROSSSLOT|different slots/i,
    )
    await client.del(...keys)
  })

  it('dispose kills every node and is safe to call twice', async () => {
    const own = await startRedisCluster()
    await own.dispose()
    await own.dispose()
    const listening = await Promise.all(own.nodes.map((node) => accepts(node.port)))
    expect(listening).toEqual(own.nodes.map(() => false))
  })
})
