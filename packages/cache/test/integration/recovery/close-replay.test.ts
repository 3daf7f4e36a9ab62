/**
 * `close()` while auto-recovery's replay is running: the invalidations it holds still reach
 * Redis. The shared Redis behind testkit's TCP proxy: the link is cut (an invalidation is
 * deferred), then restored with 50 ms of latency each way; the moment the client is ready again
 * the recovery starts its attempt (a PING, then the replay) and the test closes the cache.
 * Before, close() saw the attempt running, skipped its own final replay and marked the recovery
 * closed, which stopped the running attempt before its replay: the invalidation was dropped.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { startTcpProxy, type TcpProxy } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CACHE_CHANNELS, createCache } from '../../../src/index.js'
import { eventually, Fixture } from '../../helpers/fixture.js'

/** `invalidateTags`' hard step (tags/tag-versions.ts). */
const HARD_STEP = 1_048_576

describe('close() during a replay', () => {
  const fx = new Fixture()
  let proxy: TcpProxy

  beforeAll(async () => {
    proxy = await startTcpProxy({ targetPort: Number(new URL(fx.url).port || 6379) })
  })
  afterAll(async () => {
    await proxy?.close()
    await fx.dispose()
  })

  it('waits for the running replay: the deferred invalidation reaches Redis, nothing dropped', async () => {
    const ns = fx.namespace()
    const client = new Redis({ host: '127.0.0.1', port: proxy.port, retryStrategy: () => 50 })
    client.on('error', () => undefined) // the link is cut on purpose
    const cache = createCache({ redis: client, namespace: ns, redisTimeout: '1s', bus: false })
    const states: string[] = []
    const onRecovery = (event: unknown) => {
      const e = event as { namespace: string; state: string }
      if (e.namespace === ns) states.push(e.state)
    }
    subscribe(CACHE_CHANNELS.recovery, onRecovery)
    try {
      await cache.ready()
      proxy.cut()
      expect(await eventually(() => client.status !== 'ready')).toBe(true)
      await cache.invalidateTags(['invoice:1']) // deferred: applied here, kept for the replay
      expect(cache.stats().pendingInvalidations).toBe(1)

      // The recovery's 'ready' listener runs first and starts its attempt; close at that moment.
      const closed = new Promise<void>((resolve, reject) => {
        client.once('ready', () => {
          cache.close().then(resolve, reject)
        })
      })
      proxy.setLatency(50)
      proxy.restore()
      await closed
      expect(await fx.admin.get(`{${ns}}:t:invoice:1`)).toBe(String(HARD_STEP))
      expect(states).not.toContain('dropped')
    } finally {
      unsubscribe(CACHE_CHANNELS.recovery, onRecovery)
      proxy.setLatency(0)
      client.disconnect()
    }
  })
})
