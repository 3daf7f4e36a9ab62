/**
 * Diagnostic (not a scenario): where the time of our L2 hit goes, step by step, against raw
 * ioredis `getBuffer` + msgpackr `unpack`, in one process run. Reaches into the cache's internals
 * (`l1`, `l2`) on purpose, to time each layer separately:
 *
 * `pnpm --filter @ayala/benchmarks exec tsx src/profile/l2-hit-breakdown.ts [--quick]`
 */
import { Redis } from 'ioredis'
import { pack, unpack } from 'msgpackr'
import { Bench } from 'tinybench'
import { loadAyala } from '../cache/ayala.js'
import { dataset, KEY_COUNT, runPrefix, TTL_MS } from '../cache/fixtures.js'
import { configureRun, roundsPlan, rowFromSamples, withRatios } from '../report.js'

interface Internals {
  l1: { delete(key: string): unknown }
  l2: {
    keys: { base: string; entry(key: string): string }
    read(keys: readonly string[], tags: readonly string[]): Promise<unknown>
    readOne(key: string, tags: readonly string[]): Promise<unknown>
  }
}

const quick = process.argv.includes('--quick')
configureRun({ quick })
const ayala = await loadAyala()
if (!ayala.ready) {
  console.log(ayala.reason)
  process.exit(0)
}
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = runPrefix('l2-breakdown')
const { keys, values } = dataset()
const cache = ayala.createCache({ redis: url, namespace: prefix, ttl: TTL_MS })
const inside = (cache as unknown as { stack: Internals }).stack
const raw = new Redis(url)
const plain = new Redis(url)
plain.defineCommand('readPlain', {
  lua: `local base = ARGV[1]
local g = redis.call('GET', base .. 'g')
return { g, redis.call('GET', KEYS[1]) }`,
  numberOfKeys: 1,
})
const plainRead = plain as unknown as { readPlainBuffer(key: string, base: string): Promise<unknown[]> }
async function cleanUp(): Promise<void> {
  await cache.close()
  let cursor = '0'
  do {
    const [next, found] = await raw.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (found.length) await raw.unlink(...found)
  } while (cursor !== '0')
  await raw.quit()
  await plain.quit()
}
try {
  for (let i = 0; i < KEY_COUNT; i++) {
    await cache.set(keys[i] as string, values[i], { ttl: TTL_MS })
    await raw.set(`${prefix}:raw:${keys[i]}`, pack(values[i]), 'PX', TTL_MS)
  }
  const entryKeys = keys.map((key) => inside.l2.keys.entry(key))
  const rawKeys = keys.map((key) => `${prefix}:raw:${key}`)
  const base = inside.l2.keys.base
  let i = 0
  let evictIndex = 0
  const evict = () => {
    inside.l1.delete(keys[evictIndex % KEY_COUNT] as string)
  }
  type Task = [string, () => Promise<unknown>, { beforeEach?: () => void }]
  const tasks: Task[] = [
    [
      '1 raw getBuffer + unpack',
      async () => unpack((await raw.getBuffer(rawKeys[i++ % KEY_COUNT] as string)) as Buffer),
      {},
    ],
    ['2 raw getBuffer only (no unpack)', async () => raw.getBuffer(rawKeys[i++ % KEY_COUNT] as string), {}],
    [
      '3 raw MGET generation + entry (no Lua)',
      async () => raw.mgetBuffer(`${base}g`, entryKeys[i++ % KEY_COUNT] as string),
      {},
    ],
    [
      '4 plain client EVALSHA: GET g + GET entry',
      async () => plainRead.readPlainBuffer(entryKeys[i++ % KEY_COUNT] as string, base),
      {},
    ],
    [
      '6 our tier read() (the getMany path: one MGET entries + generation)',
      async () => inside.l2.read([entryKeys[i++ % KEY_COUNT] as string], []),
      {},
    ],
    [
      '6c our tier readOne() (one MGET entry + generation: the getOrSet/get read)',
      async () => inside.l2.readOne(entryKeys[i++ % KEY_COUNT] as string, []),
      {},
    ],
    [
      '7 our get(), L1 evicted',
      async () => cache.get(keys[evictIndex++ % KEY_COUNT] as string),
      { beforeEach: evict },
    ],
    [
      '8 our getOrSet(), L1 evicted',
      async () =>
        cache.getOrSet(keys[evictIndex % KEY_COUNT] as string, async () => values[evictIndex++ % KEY_COUNT]),
      { beforeEach: evict },
    ],
  ]
  // Interleaved rounds, as in the scenarios: load drift on a shared machine hits every step alike.
  const plan = roundsPlan()
  const samples = new Map<string, number[]>(tasks.map(([name]) => [name, []]))
  for (let round = 0; round < plan.rounds; round++) {
    const bench = new Bench({
      time: plan.time,
      warmupTime: round === 0 ? plan.warmupTime : 30,
      retainSamples: true,
    })
    for (let k = 0; k < tasks.length; k++) {
      const [name, fn, options] = tasks[(k + round) % tasks.length] as Task
      bench.add(name, fn, { async: true, ...options })
    }
    await bench.run()
    for (const task of bench.tasks) {
      const result = task.result
      const list = samples.get(task.name)
      if (list && 'latency' in result && result.latency.samples)
        for (const x of result.latency.samples) list.push(x)
    }
  }
  const data = withRatios(
    [...samples].map(([name, list]) => rowFromSamples(name, list)),
    '1 raw getBuffer + unpack',
  )
  console.log('| step | p50 (us) | p99 (us) | p50 / raw getBuffer + unpack |\n|---|---:|---:|---:|')
  for (const row of data) {
    console.log(
      `| ${row.name} | ${row.p50Us.toFixed(1)} | ${row.p99Us.toFixed(1)} | ${row.ratioToBaseline.toFixed(2)}x |`,
    )
  }
} finally {
  await cleanUp()
}
