/**
 * Diagnostic (not a scenario): a tight loop of one cache operation, for `node --cpu-prof`.
 * `tsx src/profile/cpu-loop.ts <l1-hit|l2-hit|l2-get|raw-l2|get-many|raw-many> [iterations]` then read the profile with
 * `tsx src/profile/cpu-summary.ts <file.cpuprofile>`.
 */
import { Redis } from 'ioredis'
import { pack, unpack } from 'msgpackr'
import { loadAyala } from '../cache/ayala.js'
import { dataset, KEY_COUNT, runPrefix, TTL_MS } from '../cache/fixtures.js'

const mode = process.argv[2] ?? 'l2-hit'
const iterations = Number(process.argv[3] ?? 20_000)
const ayala = await loadAyala()
if (!ayala.ready) throw new Error(ayala.reason)
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = runPrefix('cpu')
const { keys, values } = dataset()
const cache = ayala.createCache({ redis: url, namespace: prefix, ttl: TTL_MS })
const l1 = (cache as unknown as { stack: { l1: { delete(key: string): unknown } } }).stack.l1
const raw = new Redis(url)
const loaders = values.map((value) => async () => value)
for (let i = 0; i < KEY_COUNT; i++) {
  await cache.getOrSet(keys[i] as string, loaders[i] as () => Promise<unknown>, { ttl: TTL_MS })
  await raw.set(`${prefix}:raw:${keys[i]}`, pack(values[i]), 'PX', TTL_MS)
}
const options = { ttl: TTL_MS }
const rawKeys = keys.map((key) => `${prefix}:raw:${key}`)
const started = process.hrtime.bigint()
for (let n = 0; n < iterations; n++) {
  const i = n % KEY_COUNT
  const key = keys[i] as string
  if (mode === 'l1-hit') await cache.getOrSet(key, loaders[i] as () => Promise<unknown>, options)
  else if (mode === 'raw-l2') unpack((await raw.getBuffer(`${prefix}:raw:${key}`)) as Buffer)
  else if (mode === 'get-many') {
    // All 100 keys from a cold L1: one multi-key read, 100 decodes and L1 fills.
    for (const k of keys) l1.delete(k)
    await cache.getMany(keys)
  } else if (mode === 'raw-many') {
    for (const bytes of await raw.mgetBuffer(rawKeys)) unpack(bytes as Buffer)
  } else if (mode === 'l2-get') {
    // A cold get(): the key evicted from L1, one MGET of the entry and the generation.
    l1.delete(key)
    await cache.get(key)
  } else {
    l1.delete(key)
    await cache.getOrSet(key, loaders[i] as () => Promise<unknown>, options)
  }
}
const elapsed = Number(process.hrtime.bigint() - started) / 1e3 / iterations
console.log(`${mode}: ${elapsed.toFixed(2)} us per call (mean over ${iterations})`)
await cache.clear()
await cache.close()
const found = await raw.keys(`*${prefix}*`)
if (found.length) await raw.unlink(...found)
await raw.quit()
