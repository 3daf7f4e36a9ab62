/**
 * Child process of the cross-process stampede test: at START_AT (ms epoch), fires COUNT
 * concurrent getOrSet calls for KEY with the lease option, then prints the number of loader calls
 * and the values it got as one JSON line.
 */
import { createCache } from '../../src/index.js'

const env = process.env
const cache = createCache({
  redis: env.REDIS_URL as string,
  namespace: env.NAMESPACE as string,
  lease: true,
  leaseWaitTimeout: '20s',
  redisTimeout: '5s',
})
let calls = 0
const startAt = Number(env.START_AT)
await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())))
const values = await Promise.all(
  Array.from({ length: Number(env.COUNT) }, () =>
    cache.getOrSet(env.KEY as string, async () => {
      calls++
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      return `loaded by ${process.pid}`
    }),
  ),
)
process.stdout.write(`${JSON.stringify({ calls, distinct: [...new Set(values)] })}\n`)
await cache.close()
