/**
 * Diagnostic (not a scenario): cold reads of two builds of `@ayala/cache` side by side in one
 * process, against the raw ioredis baselines of the `cache-l2-hit` and `cache-get-many` scenarios,
 * in interleaved rounds (the task order rotates every round, so load drift on a shared machine
 * hits every row alike). A is `ABBA_A=<path to the old build's dist/index.js>` (the row is left
 * out without it), B the workspace's build. Rows: cold `get()` (the key evicted from L1 before each
 * call, untimed) against `getBuffer` + `unpack`, and cold `getMany(100)` against `mgetBuffer` +
 * 100 `unpack`s; plus the raw two-key MGET our cold `get()` sends (entry and generation), the
 * floor of that command against `getBuffer`.
 *
 * `ABBA_A=/tmp/cache-before/dist/index.js pnpm --filter @ayala/benchmarks exec tsx src/profile/cold-read-abba.ts [--quick]`
 * (the old `dist/` must resolve `ioredis`, `lru-cache` and `msgpackr`: e.g. a `node_modules` link
 * to packages/cache/node_modules beside it).
 */
import { pathToFileURL } from 'node:url'
import { Redis } from 'ioredis'
import { pack, unpack } from 'msgpackr'
import { Bench } from 'tinybench'
import { type AyalaCache, type CreateAyalaCache, loadAyala } from '../cache/ayala.js'
import { dataset, KEY_COUNT, runPrefix, TTL_MS } from '../cache/fixtures.js'
import { configureRun, roundsPlan, rowFromSamples, withRatios } from '../report.js'

/** The cache's internals this diagnostic reaches into: its L1 (to evict) and key space. */
interface Internals {
  stack: { l1: { delete(key: string): unknown }; keys: { generation: string; entry(key: string): string } }
}

const quick = process.argv.includes('--quick')
configureRun({ quick })
const ayala = await loadAyala()
if (!ayala.ready) {
  console.log(ayala.reason)
  process.exit(0)
}
const builds: Array<[string, CreateAyalaCache]> = []
if (process.env.ABBA_A) {
  const a = (await import(pathToFileURL(process.env.ABBA_A).href)) as { createCache: CreateAyalaCache }
  builds.push(['A', a.createCache])
}
builds.push(['B', ayala.createCache])

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = runPrefix('cold-read-abba')
const { keys, values } = dataset()
const raw = new Redis(url)
const caches = builds.map(
  ([name, create]) =>
    [name, create({ redis: url, namespace: `${prefix}-${name}`, ttl: TTL_MS, l1MaxEntries: 10_000 })] as [
      string,
      AyalaCache,
    ],
)

const ONE_BASE = 'raw getBuffer + unpack'
const MANY_BASE = 'raw mgetBuffer(100) + 100 unpack'

function median(list: readonly number[]): number {
  const sorted = [...list].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

async function cleanUp(): Promise<void> {
  for (const [, cache] of caches) await cache.close()
  let cursor = '0'
  do {
    const [next, found] = await raw.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (found.length) await raw.unlink(...found)
  } while (cursor !== '0')
  await raw.quit()
}

try {
  const rawKeys = keys.map((key) => `${prefix}:raw:${key}`)
  for (let i = 0; i < KEY_COUNT; i++) {
    await raw.set(rawKeys[i] as string, pack(values[i]), 'PX', TTL_MS)
    for (const [, cache] of caches) await cache.set(keys[i] as string, values[i], { ttl: TTL_MS })
  }
  const first = (caches[caches.length - 1] as [string, AyalaCache])[1] as unknown as Internals
  const entryKeys = keys.map((key) => first.stack.keys.entry(key))
  const generation = first.stack.keys.generation
  let i = 0
  type Task = [string, () => Promise<unknown>, { beforeEach?: () => void }]
  const tasks: Task[] = [
    [
      'raw getBuffer + unpack',
      async () => unpack((await raw.getBuffer(rawKeys[i++ % KEY_COUNT] as string)) as Buffer),
      {},
    ],
    [
      'raw mgetBuffer(entry, generation), no decode',
      () => raw.mgetBuffer(entryKeys[i++ % KEY_COUNT] as string, generation),
      {},
    ],
    [
      'raw mgetBuffer(100) + 100 unpack',
      async () => (await raw.mgetBuffer(rawKeys)).map((b) => (b === null ? undefined : unpack(b))),
      {},
    ],
  ]
  for (const [name, cache] of caches) {
    const l1 = (cache as unknown as Internals).stack.l1
    let next = 0
    tasks.push([
      `${name} get() cold`,
      () => cache.get(keys[next++ % KEY_COUNT] as string),
      { beforeEach: () => l1.delete(keys[next % KEY_COUNT] as string) },
    ])
    tasks.push([
      `${name} getMany(100) cold`,
      () => cache.getMany(keys),
      {
        beforeEach: () => {
          for (const key of keys) l1.delete(key)
        },
      },
    ])
  }
  // More, shorter rounds than the scenarios' (ABBA_ROUNDS, 24 x 100 ms per task): each row's p50
  // over its raw row's p50 of the same round is taken, and the median of those per-round ratios
  // reported beside the pooled one; the machine's load drifting between rounds moves it less.
  const plan = roundsPlan()
  const rounds = quick ? plan.rounds : Number(process.env.ABBA_ROUNDS ?? 24)
  const roundTime = quick ? plan.time : 100
  const samples = new Map<string, number[]>(tasks.map(([name]) => [name, []]))
  const perRound = new Map<string, number[]>(tasks.map(([name]) => [name, []]))
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({
      time: roundTime,
      warmupTime: round === 0 ? plan.warmupTime : 30,
      retainSamples: true,
    })
    for (let k = 0; k < tasks.length; k++) {
      const [name, fn, options] = tasks[(k + round) % tasks.length] as Task
      bench.add(name, fn, { async: true, ...options })
    }
    await bench.run()
    const p50 = new Map<string, number>()
    for (const task of bench.tasks) {
      const result = task.result
      const list = samples.get(task.name)
      if (list && 'latency' in result && result.latency.samples) {
        for (const x of result.latency.samples) list.push(x)
        p50.set(task.name, median(result.latency.samples))
      }
    }
    for (const [name] of tasks) {
      const base = p50.get(name.includes('100') ? MANY_BASE : ONE_BASE)
      const own = p50.get(name)
      if (base !== undefined && own !== undefined) perRound.get(name)?.push(own / base)
    }
  }
  const rows = [...samples].map(([name, list]) => rowFromSamples(name, list))
  const single = withRatios(
    rows.filter((row) => !row.name.includes('100')),
    ONE_BASE,
  )
  const many = withRatios(
    rows.filter((row) => row.name.includes('100')),
    MANY_BASE,
  )
  console.log(
    `rounds: ${rounds}\n| row | p50 (us) | p99 (us) | p50 / raw (pooled) | p50 / raw, median of per-round ratios |\n|---|---:|---:|---:|---:|`,
  )
  for (const row of [...single, ...many])
    console.log(
      `| ${row.name} | ${row.p50Us.toFixed(2)} | ${row.p99Us.toFixed(1)} | ${row.ratioToBaseline.toFixed(3)}x | ${median(perRound.get(row.name) ?? []).toFixed(3)}x |`,
    )
} finally {
  await cleanUp()
}
