/**
 * The cache sink on a real Redis reached through a proxy the test cuts. The writer "crashed" right
 * after its commit: the invalidation its write path would have sent never happened, so the
 * outbox's cache effect is the only one. While Redis is unreachable the relay keeps retrying (the
 * sink asks the cache to reject what Redis did not confirm) and reports it; once Redis answers the
 * effect lands, and no instance serves the old value after the outbox drained.
 */
import { type Cache, createCache } from '@ayala/cache'
import {
  type PrivateRedis,
  startPrivateRedis,
  startTcpProxy,
  type TcpProxy,
  uniqueName,
} from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cacheEffect, cacheSink, createOutbox, type Outbox, type OutboxRelay } from '../../../src/index.ts'
import { type DriverUnderTest, mariadbDriver } from '../../helpers/databases.ts'
import { waitFor } from '../../helpers/recording-sink.ts'

describe('cacheSink on a real Redis behind a cut link', () => {
  let db: DriverUnderTest
  let redis: PrivateRedis
  let proxy: TcpProxy
  let relayCache: Cache
  let reader: Cache
  let outbox: Outbox
  let relay: OutboxRelay
  const rows = uniqueName('rows').replace(/-/g, '_')

  beforeAll(async () => {
    db = mariadbDriver()
    redis = await startPrivateRedis()
    proxy = await startTcpProxy({ targetPort: redis.port })
    const namespace = uniqueName('cache')
    const common = { namespace, ttl: '10m', l1Ttl: '10m', tagTrust: '10m', redisTimeout: '200ms' } as const
    relayCache = createCache({ ...common, redis: `redis://127.0.0.1:${proxy.port}` })
    reader = createCache({ ...common, redis: redis.url })
    await db.exec(`CREATE TABLE ${rows} (id INT PRIMARY KEY, version INT NOT NULL)`)
    await db.exec(`INSERT INTO ${rows} (id, version) VALUES (1, 1)`)
    outbox = createOutbox({ table: uniqueName('outbox').replace(/-/g, '_') })
    await outbox.ensureTable(db.pool)
    relay = outbox.relay({
      db: db.pool,
      sinks: { cache: cacheSink({ cache: relayCache }) },
      pollInterval: 50,
      retryDelay: 100,
      maxRetryDelay: 500,
      degradedAfter: '1h',
    })
  })

  afterAll(async () => {
    await relay?.stop()
    await relayCache?.close()
    await reader?.close()
    await proxy?.close()
    await redis?.dispose()
    await db.exec(`DROP TABLE IF EXISTS ${rows}`)
    await db.exec(`DROP TABLE IF EXISTS ${outbox.tableName}`)
    await db.close()
  })

  const load = async () => {
    const [row] = await db.exec(`SELECT version FROM ${rows} WHERE id = 1`)
    return { id: 1, version: Number(row?.version) }
  }
  const read = (cache: Cache) => cache.getOrSet('invoice:1', load, { tags: ['invoice:1'] })

  it('delivers the invalidation once Redis answers; no stale read after the outbox drained', async () => {
    expect(await read(reader)).toEqual({ id: 1, version: 1 })
    expect(await read(relayCache)).toEqual({ id: 1, version: 1 })

    proxy.cut()
    // The write commits with its cache effect; its process dies before invalidating anything.
    await db.transaction(async (tx, exec) => {
      await exec(`UPDATE ${rows} SET version = 2 WHERE id = 1`)
      await outbox.enqueue(tx, cacheEffect({ tags: ['invoice:1'] }))
    })
    relay.start()
    await waitFor(() => (relay.stats().cache?.consecutiveFailures ?? 0) >= 3, 20_000, 'failing deliveries')
    expect((await outbox.lag(db.pool)).cache).toMatchObject({ pending: 1, dead: 0 })
    expect((await relay.health()).sinks.cache?.status).toBe('degraded')

    proxy.restore()
    await waitFor(async () => (await outbox.lag(db.pool)).cache === undefined, 30_000, 'outbox drained')
    // Every read from now on is fresh, on the reader instance (told by the bus) and on the relay's.
    let stale = 0
    for (let i = 0; i < 50; i++) {
      for (const cache of [reader, relayCache]) if ((await read(cache)).version !== 2) stale++
    }
    expect(stale).toBe(0)
    expect((await outbox.deadLetters(db.pool)).length).toBe(0)
    expect(relay.stats().cache?.retried).toBeGreaterThan(0)
  })
})
