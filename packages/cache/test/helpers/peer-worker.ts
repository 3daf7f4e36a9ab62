/**
 * Child process of the awaited-invalidation tests (bus/await-peers): one cache instance on
 * NAMESPACE that reads KEY (tagged TAG) with a loader reading the source of truth, the Redis
 * string TRUTH_KEY. Driven over IPC: `{ op: 'read', id }` answers `{ id, value }`, `{ op:
 * 'stats', id }` answers `{ id, stats }`; `{ ready: true }` is sent once its bus is connected.
 */
import { Redis } from 'ioredis'
import { createCache } from '../../src/index.js'

const env = process.env
const truth = new Redis(env.REDIS_URL as string)
const cache = createCache({
  redis: env.REDIS_URL as string,
  namespace: env.NAMESPACE as string,
  redisTimeout: '5s',
  l1Ttl: '1h',
  tagTrust: '1h',
})
const send = (message: unknown): void => {
  process.send?.(message)
}

await cache.ready()
while (!cache.busConnected) await new Promise((resolve) => setTimeout(resolve, 10))
process.on('message', (raw) => {
  const message = raw as { op: string; id: number }
  if (message.op === 'read') {
    cache
      .getOrSet(env.KEY as string, async () => Number(await truth.get(env.TRUTH_KEY as string)), {
        tags: [env.TAG as string],
      })
      .then((value) => send({ id: message.id, value }))
  } else if (message.op === 'stats') {
    send({ id: message.id, stats: cache.stats() })
  } else if (message.op === 'close') {
    void cache.close().then(() => {
      truth.disconnect()
      process.exit(0)
    })
  }
})
send({ ready: true })
