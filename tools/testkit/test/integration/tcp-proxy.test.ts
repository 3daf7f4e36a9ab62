import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { serviceUrls } from '../../src/services.ts'
import { startTcpProxy, type TcpProxy } from '../../src/tcp-proxy.ts'
import { uniqueName } from '../../src/unique-name.ts'

const redisPort = Number(new URL(serviceUrls().redis).port || 6379)

describe('startTcpProxy', () => {
  let proxy: TcpProxy | undefined
  let client: Redis | undefined
  afterEach(async () => {
    client?.disconnect()
    await proxy?.close()
  })

  it('forwards, refuses, blackholes and restores a real Redis connection', async () => {
    proxy = await startTcpProxy({ targetPort: redisPort })
    client = new Redis({
      port: proxy.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => 50,
      commandTimeout: 300,
    })
    await client.connect()
    const key = uniqueName('proxy')
    await client.set(key, 'v', 'PX', 10_000)
    expect(await client.get(key)).toBe('v')

    proxy.cut()
    expect(proxy.open).toBe(0)
    await expect(client.get(key)).rejects.toThrow()

    proxy.restore()
    await waitFor(async () => (await client?.get(key).catch(() => null)) === 'v')

    proxy.blackhole()
    // The connection stays open but nothing answers: only the command timeout ends the call.
    // (ioredis keeps the timed-out command queued; its late reply arrives once the link heals.)
    await expect(client.get(key)).rejects.toThrow(/timed out/i)
    expect(proxy.open).toBeGreaterThan(0)

    proxy.restore()
    proxy.setLatency(20)
    await waitFor(async () => (await client?.get(key).catch(() => null)) === 'v')
    await client.del(key)
    expect(proxy.accepted).toBeGreaterThanOrEqual(2)
  })
})

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('condition not met in time')
}
