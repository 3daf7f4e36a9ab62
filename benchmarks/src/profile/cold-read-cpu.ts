/**
 * Diagnostic (not a scenario): the client-side cost of a cold read, with Redis taken out. The
 * cache borrows an ioredis client whose `mgetBuffer` answers at once (in `sendCommand`, once the
 * ioredis Command is built) with the bytes a real Redis returned (captured once), so what is timed is everything of ours around the command: the
 * promise layers, the tier's deadline watchdog, key building, the envelope's decode, the L1 fill
 * and the counters. Compared with the same canned answer through `getBuffer` + `unpack` (raw).
 * Alternating blocks, main-thread CPU time; prints CPU ns per call and the median of per-round ratios to raw.
 *
 * `pnpm --filter @ayala/benchmarks exec tsx src/profile/cold-read-cpu.ts [ABBA_A build path]`
 */
import { pathToFileURL } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { crc32 } from 'node:zlib'
import { type Command, Redis } from 'ioredis'
import { LRUCache } from 'lru-cache'
import { pack, unpack } from 'msgpackr'
import { type AyalaCache, type CreateAyalaCache, loadAyala } from '../cache/ayala.js'
import { dataset, KEY_COUNT, TTL_MS } from '../cache/fixtures.js'

interface Internals {
  stack: { l1: { delete(key: string): unknown }; keys: { entry(key: string): string } }
}

const ayala = await loadAyala()
if (!ayala.ready) throw new Error(ayala.reason)
const builds: Array<[string, CreateAyalaCache]> = []
const pathA = process.argv[2] ?? process.env.ABBA_A
if (pathA)
  builds.push([
    'A',
    ((await import(pathToFileURL(pathA).href)) as { createCache: CreateAyalaCache }).createCache,
  ])
builds.push(['B', ayala.createCache])
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const { keys, values } = dataset()

/** Capture the bytes a real Redis holds for our entries, then serve them from memory. */
async function cannedCache(create: CreateAyalaCache, namespace: string): Promise<AyalaCache> {
  const real = create({ redis: url, namespace, ttl: TTL_MS })
  for (let i = 0; i < KEY_COUNT; i++) await real.set(keys[i] as string, values[i], { ttl: TTL_MS })
  const entryKeys = keys.map((key) => (real as unknown as Internals).stack.keys.entry(key))
  const probe = new Redis(url)
  const bytes = new Map<string, Buffer | null>()
  for (const key of entryKeys) bytes.set(key, await probe.getBuffer(key))
  await real.clear()
  await real.close()
  await probe.quit()
  const fake = new Redis(url, { lazyConnect: true })
  ;(fake as unknown as { status: string }).status = 'ready'
  const answer = (list: readonly unknown[]) => list.map((key) => bytes.get(key as string) ?? null)
  // Every command reaches sendCommand (the client's generated methods and the tier's own
  // Commands alike): answered there, once the Command is built, as a reply would settle it.
  ;(fake as unknown as { sendCommand: unknown }).sendCommand = (command: Command) => {
    if (command.name !== 'mget') throw new Error(`canned client: unexpected ${command.name}`)
    command.resolve(answer(command.args))
    return command.promise
  }
  const cache = create({ redis: fake, namespace, ttl: TTL_MS, failoverCheck: false })
  return cache
}

/** A row: the untimed step before each call (the eviction), and the timed call. */
type Row = [name: string, before: ((k: number) => void) | undefined, call: (k: number) => Promise<unknown>]
const rows: Row[] = []
const packed = values.map((value) => pack(value))
// The raw rows pay the same ioredis Command as ours: a canned client answering in sendCommand.
const canned = new Redis(url, { lazyConnect: true })
;(canned as unknown as { status: string }).status = 'ready'
;(canned as unknown as { sendCommand: unknown }).sendCommand = (command: Command) => {
  command.resolve(command.name === 'get' ? packed[Number(command.args[0])] : packed)
  return command.promise
}
const indexKeys = packed.map((_, i) => String(i))
rows.push([
  'raw getBuffer + unpack (canned)',
  undefined,
  async (k) => unpack((await canned.getBuffer(indexKeys[k % KEY_COUNT] as string)) as Buffer),
])
rows.push([
  'raw mgetBuffer(100) + 100 unpack (canned), per key',
  undefined,
  async () => (await canned.mgetBuffer(indexKeys)).map((b) => unpack(b as Buffer)),
])
// The floor of a checked, cached read: the raw row plus what no cache that keeps the
// envelope's guarantee and fills its L1 can skip per key (the CRC-32 over the bytes, an L1
// record stored with its TTL in an lru-cache configured as ours).
const floorL1 = new LRUCache<string, object>({
  max: 10_000,
  ttlAutopurge: false,
  updateAgeOnGet: false,
  allowStale: false,
})
rows.push([
  'floor: raw mgetBuffer(100) + 100 x (CRC-32 + unpack + L1 fill), per key',
  () => floorL1.clear(),
  async () => {
    const replies = await canned.mgetBuffer(indexKeys)
    const now = Date.now()
    for (let j = 0; j < replies.length; j++) {
      const bytes = replies[j] as Buffer
      if (crc32(bytes.subarray(0, bytes.length - 4)) === -1) throw new Error('unreachable')
      const value = unpack(bytes)
      floorL1.set(
        keys[j] as string,
        {
          value,
          freshUntil: now + TTL_MS,
          staleUntil: now + TTL_MS,
          tags: keys,
          versions: keys,
          seq: -1,
          epoch: 0,
        },
        { ttl: TTL_MS },
      )
    }
  },
])
for (const [name, create] of builds) {
  const cache = await cannedCache(create, `cold-read-cpu-${name}-${process.pid}`)
  const l1 = (cache as unknown as Internals).stack.l1
  // Each build must read back what was written, cold, before it is timed.
  for (const key of keys) l1.delete(key)
  if (!isDeepStrictEqual(await cache.getMany(keys), values))
    throw new Error(`${name}: getMany read wrong values`)
  for (const key of keys) l1.delete(key)
  for (let i = 0; i < KEY_COUNT; i++)
    if (!isDeepStrictEqual(await cache.get(keys[i] as string), values[i]))
      throw new Error(`${name}: get read a wrong value`)
  rows.push([
    `${name} get() cold`,
    (k) => l1.delete(keys[k % KEY_COUNT] as string),
    (k) => cache.get(keys[k % KEY_COUNT] as string),
  ])
  rows.push([
    `${name} getMany(100) cold, per key`,
    () => {
      for (const key of keys) l1.delete(key)
    },
    () => cache.getMany(keys),
  ])
}
// CPU_ROWS=<substring>: time only the rows whose name holds it, and the raw rows (e.g. under --cpu-prof).
const only = process.env.CPU_ROWS
if (only !== undefined)
  rows.splice(0, rows.length, ...rows.filter(([name]) => name.includes(only) || name.startsWith('raw')))
const N = Number(process.env.CPU_CALLS ?? 5_000)
const ROUNDS = Number(process.env.CPU_ROUNDS ?? 31)
// Per round, each row's time over its raw row's of the same round (adjacent blocks share the
// machine's load of the moment); the median of those per-round ratios is what is reported.
const ns = new Map<string, number[]>(rows.map(([name]) => [name, []]))
const ratios = new Map<string, number[]>(rows.map(([name]) => [name, []]))
const rawOf = (name: string) =>
  name.includes('getMany') || name.includes('100')
    ? 'raw mgetBuffer(100) + 100 unpack (canned), per key'
    : 'raw getBuffer + unpack (canned)'
for (let round = 0; round < ROUNDS; round++) {
  const took = new Map<string, number>()
  for (let k = 0; k < rows.length; k++) {
    // The main thread's CPU time around each call alone (not wall time: a call descheduled by
    // the machine's other load is not charged for the wait; the eviction before it is untimed).
    const [name, before, call] = rows[(k + round) % rows.length] as Row
    const calls = name.includes('100') ? N / 100 : N
    let spent = 0
    for (let c = 0; c < calls; c++) {
      before?.(c)
      const started = threadCpu()
      await call(c)
      spent += threadCpu() - started
    }
    const per = (spent * 1000) / N
    took.set(name, per)
    ns.get(name)?.push(per)
  }
  for (const [name] of rows) {
    const base = took.get(rawOf(name))
    if (base !== undefined) ratios.get(name)?.push((took.get(name) as number) / base)
  }
}
/** CPU time of this thread, us. */
function threadCpu(): number {
  const { user, system } = (
    process as unknown as { threadCpuUsage(): { user: number; system: number } }
  ).threadCpuUsage()
  return user + system
}
const median = (list: readonly number[]) =>
  [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] as number
console.log(
  '| row | CPU ns per call (per key for getMany), median | / raw, median of per-round ratios |\n|---|---:|---:|',
)
for (const [name, list] of ns)
  console.log(`| ${name} | ${median(list).toFixed(0)} | ${median(ratios.get(name) ?? []).toFixed(3)}x |`)
process.exit(0)
