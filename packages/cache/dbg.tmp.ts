import { subscribe } from 'node:diagnostics_channel'
import { createCache } from './src/index.ts'

subscribe('ayala:cache:error', (e: any) => console.log('ERR', e.operation, e.error?.message))
const ns = 'dbg' + Date.now()
const caches = Array.from({ length: 5 }, () =>
  createCache({ redis: 'redis://127.0.0.1:6379', namespace: ns, redisTimeout: '2s' }),
)
for (let round = 0; round < 3; round++) {
  const t0 = Date.now()
  await Promise.all(
    caches.flatMap((cache) => Array.from({ length: 40 }, () => cache.invalidateTags(['hot', 'other']))),
  )
  console.log('bumps', Date.now() - t0)
}
await Promise.all(caches.map((c) => c.close()))
