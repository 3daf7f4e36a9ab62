import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type PrivateRedis, startPrivateRedis } from '../../src/index.ts'

describe('startPrivateRedis', () => {
  let server: PrivateRedis
  beforeAll(async () => {
    server = await startPrivateRedis()
  })
  afterAll(async () => {
    await server.dispose()
  })

  it('answers, dies on stop and comes back on start', async () => {
    const client = new Redis(server.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    await client.connect()
    expect(await client.ping()).toBe('PONG')
    await server.stop()
    await expect(client.ping()).rejects.toThrow()
    client.disconnect()

    await server.start()
    const again = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 })
    await again.connect()
    expect(await again.set('k', 'v')).toBe('OK')
    expect(await again.get('k')).toBe('v')
    again.disconnect()
  })
})
