/**
 * Diagnostic (not a scenario): the L1 hit of two builds of `@ayala/cache` side by side in one
 * process, beside the `cache-l1-hit` scenario's baseline (an async function returning
 * `lruCache.get(key)`). Each contender runs `ABBA_CALLS` (200,000) sequential awaited `getOrSet`
 * calls cycling through 100 cached invoices, per round, in a rotating order (`ABBA_ROUNDS`, 9), so
 * load drift on a shared machine hits every contender alike. Prints ns per call per round and the
 * median of the per-round ratios (B / A, each / baseline). A is `ABBA_A=<the old build's
 * dist/index.js>`, B the workspace's build; both with Redis (entries in L1 and L2), as the scenario.
 *
 * `ABBA_A=/tmp/old/packages/cache/dist/index.js pnpm --filter @ayala/benchmarks exec tsx src/profile/l1-hit-abba.ts`
 */
import { pathToFileURL } from 'node:url'
import { LRUCache } from 'lru-cache'
import { type CreateAyalaCache, loadAyala } from '../cache/ayala.js'
import { dataset, KEY_COUNT, runPrefix, TTL_MS } from '../cache/fixtures.js'

const CALLS = Number(process.env.ABBA_CALLS ?? 200_000)
const ROUNDS = Number(process.env.ABBA_ROUNDS ?? 9)
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const pathA = process.env.ABBA_A
if (!pathA) throw new Error('set ABBA_A to the old build (dist/index.js)')
const ayala = await loadAyala()
if (!ayala.ready) throw new Error(ayala.reason)
const builds: Array<[string, CreateAyalaCache]> = [
  ['A', ((await import(pathToFileURL(pathA).href)) as { createCache: CreateAyalaCache }).createCache],
  ['B', ayala.createCache],
]
const { keys, values } = dataset()
const loaders = values.map((value) => async () => value)

const lru = new LRUCache<string, object>({ max: 10_000, ttl: TTL_MS })
for (let i = 0; i < KEY_COUNT; i++) lru.set(keys[i] as string, values[i])
const lruGet = async (key: string) => lru.get(key)
const tasks: Array<[string, () => Promise<void>]> = [
  [
    'baseline',
    async () => {
      for (let n = 0; n < CALLS; n++) await lruGet(keys[n % KEY_COUNT] as string)
    },
  ],
]
const caches = []
for (const [name, create] of builds) {
  const cache = create({ redis: url, namespace: `${runPrefix('l1-hit-abba')}-${name}`, ttl: TTL_MS })
  for (let i = 0; i < KEY_COUNT; i++)
    await cache.getOrSet(keys[i] as string, loaders[i] as () => Promise<unknown>)
  caches.push(cache)
  tasks.push([
    name,
    async () => {
      for (let n = 0; n < CALLS; n++) {
        const i = n % KEY_COUNT
        await cache.getOrSet(keys[i] as string, loaders[i] as () => Promise<unknown>)
      }
    },
  ])
}
// Warm-up: every task once, untimed.
for (const [, task] of tasks) await task()
const perRound: Array<Record<string, number>> = []
for (let round = 0; round < ROUNDS; round++) {
  const ns: Record<string, number> = {}
  for (let k = 0; k < tasks.length; k++) {
    const [name, task] = tasks[(round + k) % tasks.length] as [string, () => Promise<void>]
    const t0 = process.hrtime.bigint()
    await task()
    ns[name] = Number(process.hrtime.bigint() - t0) / CALLS
  }
  perRound.push(ns)
  console.log(
    `round ${round + 1}: ${Object.entries(ns)
      .map(([name, v]) => `${name} ${v.toFixed(1)} ns`)
      .join(', ')}`,
  )
}
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] as number
const ratio = (a: string, b: string) => median(perRound.map((r) => (r[a] as number) / (r[b] as number)))
console.log(
  `median of per-round ratios: B / A ${ratio('B', 'A').toFixed(3)}x, A / baseline ${ratio('A', 'baseline').toFixed(3)}x, B / baseline ${ratio('B', 'baseline').toFixed(3)}x`,
)
for (const cache of caches) {
  await cache.clear()
  await cache.close()
}
