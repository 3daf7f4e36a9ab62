/**
 * One memory measurement in a fresh process (`node --expose-gc --import tsx child.ts '<json>'`,
 * started by `measure.ts`), so that measurements never see each other's garbage, JIT code or
 * pools. Prints one JSON line: the figures, or `{ error }`.
 *
 * How: everything a contender needs before its entries (modules, client, connection, a warm-up
 * call) is done first; then full GCs and a reading (`before`); then the work; then full GCs and a
 * reading (`after`). The delta is what the contender holds for its entries. During bulk indexing a
 * sampler also reads `process.memoryUsage()` every 10 ms for the peak.
 */
import { join } from 'node:path'
import { writeHeapSnapshot } from 'node:v8'
import { LRUCache } from 'lru-cache'
import { makeInvoice, TTL_MS } from '../cache/fixtures.js'

/** What the parent asks for. */
export type MemoryJob =
  | { kind: 'l1'; contender: 'lru-cache' | 'ayala-l1' | 'ayala-redis'; entries: number; redis?: string }
  | {
      kind: 'bulk'
      contender: 'ours' | 'official'
      docs: number
      node: string
      concurrency: number
      /** `generator` (default): the caller holds no document; `array`: built before the first reading. */
      source?: 'generator' | 'array' | undefined
    }

/** One reading, in bytes. */
export interface Reading {
  heapUsed: number
  /** `external` (includes `arrayBuffers`: Buffers). */
  external: number
  rss: number
}

/** What the child prints. */
export interface MemoryFigures {
  before: Reading
  after: Reading
  /** Bulk only: the highest reading while indexing (each field on its own). */
  peak?: Reading | undefined
  /** Entries the contender reported holding (L1), or documents counted in the index (bulk). */
  count: number
  ms: number
}

const gc = (globalThis as { gc?: () => void }).gc

async function settle(): Promise<Reading> {
  if (!gc) throw new Error('run with --expose-gc')
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((done) => setImmediate(done))
  }
  const m = process.memoryUsage()
  return { heapUsed: m.heapUsed, external: m.external, rss: m.rss }
}

/**
 * `MEMORY_BENCH_SNAPSHOT_DIR=<dir>`: a heap snapshot after the entries, `<dir>/<name>.heapsnapshot`,
 * for `src/profile/heap-summary.ts` (where the bytes go, by constructor).
 */
function snapshot(name: string): void {
  const dir = process.env.MEMORY_BENCH_SNAPSHOT_DIR
  if (dir) writeHeapSnapshot(join(dir, `${name}.heapsnapshot`))
}

/**
 * The invoice as a database driver or a JSON API hands it over: flat strings. `makeInvoice`'s
 * template literals are cons strings (a literal + a number, 32 B), which an encoder flattens in
 * place (a new 48-B string beside them): with Redis on, that counted against the cache (+40,000
 * strings at 10,000 entries in a heap snapshot, no object copied), an artifact of the fixture.
 */
const makeValue = (i: number): object => JSON.parse(JSON.stringify(makeInvoice(i))) as object

async function l1(job: Extract<MemoryJob, { kind: 'l1' }>): Promise<MemoryFigures> {
  const keys = (i: number) => `invoice:${i}`
  if (job.contender === 'lru-cache') {
    // The L1 baseline of every cache scenario: the same `max` and TTL.
    const lru = new LRUCache<string, object>({ max: job.entries, ttl: TTL_MS })
    lru.set('warm', makeInvoice(-1))
    lru.get('warm')
    lru.delete('warm')
    const before = await settle()
    const t0 = performance.now()
    for (let i = 0; i < job.entries; i++) lru.set(keys(i), makeValue(i))
    const ms = performance.now() - t0
    const after = await settle()
    snapshot(`${job.contender}-${job.entries}`)
    return { before, after, count: lru.size, ms }
  }
  const { createCache } = await import('@ayala/cache')
  const cache = createCache({
    ...(job.contender === 'ayala-redis' ? { redis: job.redis } : {}),
    namespace: `ayala-bench-memory-${process.pid}`,
    ttl: TTL_MS,
    l1MaxEntries: job.entries,
    // Bounded by entries only, as the lru-cache baseline is (the 64 MiB default would evict).
    l1MaxBytes: 0,
  })
  try {
    // ready() (newer builds) waits for the first connection; an older dist's first set does.
    const ready = (cache as { ready?: () => Promise<void> }).ready
    if (job.contender === 'ayala-redis' && ready) await ready.call(cache)
    await cache.set('warm', makeInvoice(-1))
    await cache.get('warm')
    await cache.delete('warm')
    const before = await settle()
    const t0 = performance.now()
    // Writes in groups of 200 (with Redis, one sequential await each would take minutes).
    for (let i = 0; i < job.entries; i += 200) {
      const group: Promise<void>[] = []
      for (let j = i; j < Math.min(job.entries, i + 200); j++) group.push(cache.set(keys(j), makeValue(j)))
      await Promise.all(group)
    }
    const ms = performance.now() - t0
    const after = await settle()
    snapshot(`${job.contender}-${job.entries}`)
    return { before, after, count: cache.stats().l1Entries, ms }
  } finally {
    if (job.contender === 'ayala-redis') await cache.clear()
    await cache.close()
  }
}

function invoiceDoc(i: number) {
  return {
    id: `inv-${i}`,
    number: `FAC-2026-${String(i).padStart(7, '0')}`,
    description: `servicio de mantenimiento ${i % 97} y reparación de equipos de electrónica`,
    client: `Cliente ${i % 500}`,
    status: ['draft', 'issued', 'paid', 'overdue'][i % 4] as string,
    issuedAt: new Date(Date.UTC(2024, 0, 1) + (i % 900) * 86_400_000).toISOString().slice(0, 10),
    totalCents: 100 + ((i * 7_919) % 1_000_000),
  }
}

async function bulk(job: Extract<MemoryJob, { kind: 'bulk' }>): Promise<MemoryFigures> {
  const { bulkIndex, createSearchClient, defineIndex, field } = await import('@ayala/search')
  const search = createSearchClient({ node: job.node, engine: 'opensearch', requestTimeout: '10m' })
  const raw = await search.raw()
  const index = `bench-memory-bulk-${process.pid}-${job.contender}`
  const def = defineIndex({
    name: index,
    id: 'id',
    fields: {
      id: field.keyword(),
      number: field.keyword(),
      description: field.text(),
      client: field.keyword(),
      status: field.keyword(),
      issuedAt: field.date(),
      totalCents: field.money(),
    },
  })
  // Both contenders read the same source: an async generator, as a user streaming rows from a
  // database would pass; the documents are not held by the caller.
  async function* generate() {
    for (let i = 0; i < job.docs; i++) yield invoiceDoc(i)
  }
  // An array is built before the first reading: the delta is then the indexer's own buffers.
  const array = job.source === 'array' ? Array.from({ length: job.docs }, (_, i) => invoiceDoc(i)) : undefined
  const source = () => array ?? generate()
  await search.createIndex(def)
  try {
    await raw.index({ index, id: 'warm', document: invoiceDoc(-1), refresh: true })
    await raw.delete({ index, id: 'warm', refresh: true })
    const before = await settle()
    const peak: Reading = { ...before }
    const sample = setInterval(() => {
      const m = process.memoryUsage()
      peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed)
      peak.external = Math.max(peak.external, m.external)
      peak.rss = Math.max(peak.rss, m.rss)
    }, 10)
    const t0 = performance.now()
    try {
      if (job.contender === 'ours') {
        const report = await bulkIndex(raw, source(), {
          index,
          idOf: (d) => d.id,
          concurrency: job.concurrency,
        })
        if (report.failed > 0) throw new Error(`ours rejected ${report.failed}`)
      } else {
        const stats = await raw.helpers.bulk({
          datasource: source(),
          concurrency: job.concurrency,
          refreshOnCompletion: index,
          onDocument: (doc) => ({ index: { _index: index, _id: doc.id } }),
        })
        if (stats.failed > 0) throw new Error(`official rejected ${stats.failed}`)
      }
    } finally {
      clearInterval(sample)
    }
    const ms = performance.now() - t0
    const after = await settle()
    await raw.indices.refresh({ index })
    const count = (await raw.count({ index })).count
    return { before, after, peak, count, ms }
  } finally {
    await search.deleteIndex(index)
    await search.close()
  }
}

const arg = process.argv[2]
if (arg) {
  const job = JSON.parse(arg) as MemoryJob
  try {
    const figures = job.kind === 'l1' ? await l1(job) : await bulk(job)
    process.stdout.write(`${JSON.stringify(figures)}\n`)
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: (error as Error).stack ?? String(error) })}\n`)
  }
  process.exit(0)
}
