/**
 * Dashboard read, before/after a change of `@ayala/metrics-stream`, A-B-B-A on one private
 * redis-server: `ABBA_A=<path to the old build's dist/index.js>` (B is the workspace's build),
 * the same view and the same figures (2,000 invoice events applied once, by B's consumer through
 * an in-memory source), `ABBA_READS` (20,000) sequential reads per contender and path after 2,000
 * untimed ones: from Redis (`cache: false`) and from the push-invalidated in-process copy. Prints
 * p50/p99 per contender and the B/A ratios of each A-B-B-A block (`ABBA_ROUNDS`, 3).
 *
 * `node --import tsx src/profile/dashboard-read-abba.ts` from `benchmarks/`, with
 * ABBA_A=/path/to/old/packages/metrics-stream/dist/index.js.
 */
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import * as B from '@ayala/metrics-stream'
import { Redis } from 'ioredis'

type Module = typeof B
const require = createRequire(import.meta.resolve('@ayala/metrics-stream'))

const READS = Number(process.env.ABBA_READS ?? 20_000)
const ROUNDS = Number(process.env.ABBA_ROUNDS ?? 3)

interface Row {
  status: 'open' | 'paid' | 'cancelled'
  amountCents: number
  clientId: string
  issuedAt: number
}

function viewOf(m: Module) {
  const aggregates = m.defineAggregates<Row>()((a) => ({
    byStatus: a.count({ by: { status: (r) => r.status } }),
    amountByStatus: a.sum({ value: (r) => r.amountCents, by: { status: (r) => r.status } }),
    amountByDay: a.sum({ value: (r) => r.amountCents, bucket: m.day((r) => r.issuedAt), readBuckets: 7 }),
    topClients: a.top({ member: (r) => r.clientId, score: (r) => r.amountCents, size: 10 }),
    clients: a.distinct({ value: (r) => r.clientId }),
  }))
  return m.defineView<Row, Row, typeof aggregates>({ name: 'abba', eventTime: (e) => e.issuedAt, aggregates })
}

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number
}

async function fill(url: string, namespace: string): Promise<void> {
  const redis = new Redis(url)
  let handle: ((batch: B.SourceBatch, context: B.SourceBatchContext) => Promise<void>) | undefined
  const source: B.Source = {
    topics: ['memory'],
    start: async (h) => {
      handle = h
    },
    isAssigned: () => true,
    send: async () => undefined,
    highWatermarks: async () => [],
    stop: async () => undefined,
  }
  const consumer = B.createMetricsConsumer({ redis, namespace, view: viewOf(B), source })
  await consumer.start()
  const now = Date.now()
  const messages: B.SourceMessage[] = Array.from({ length: 2_000 }, (_, n) => ({
    offset: String(n),
    key: Buffer.from(`inv-${n}`),
    value: Buffer.from(
      JSON.stringify({
        status: n % 3 === 0 ? 'paid' : 'open',
        amountCents: 100 + ((n * 7_919) % 100_000),
        clientId: `client-${n % 500}`,
        issuedAt: now - (n % 7) * 86_400_000,
      }),
    ),
    timestamp: String(now),
  }))
  const context: B.SourceBatchContext = {
    assignment: 1,
    isActive: () => true,
    commit: async () => undefined,
    heartbeat: async () => undefined,
    seek: () => undefined,
  }
  await handle?.({ topic: 'memory', partition: 0, messages }, context)
  await consumer.stop()
  redis.disconnect()
}

async function measure(m: Module, redis: Redis, namespace: string) {
  const view = viewOf(m)
  const plain = m.createDashboard({ redis, namespace, view, cache: false })
  const cached = m.createDashboard({ redis, namespace, view })
  await cached.ready()
  const time = async (read: () => Promise<unknown>) => {
    for (let i = 0; i < 2_000; i++) await read()
    const us: number[] = new Array(READS)
    for (let i = 0; i < READS; i++) {
      const t = performance.now()
      await read()
      us[i] = (performance.now() - t) * 1_000
    }
    us.sort((a, b) => a - b)
    return { p50: pct(us, 0.5), p99: pct(us, 0.99) }
  }
  const fromRedis = await time(() => plain.read())
  const fromCopy = await time(() => cached.read())
  await plain.close()
  await cached.close()
  return { fromRedis, fromCopy }
}

async function main(): Promise<void> {
  if (!process.env.ABBA_A)
    throw new Error('set ABBA_A to the old build (…/packages/metrics-stream/dist/index.js)')
  const A = (await import(pathToFileURL(process.env.ABBA_A).href)) as Module
  const testkit = (await import(pathToFileURL(require.resolve('@ayala/testkit')).href)) as {
    startPrivateRedis(): Promise<{ url: string; dispose(): Promise<void> }>
  }
  const server = await testkit.startPrivateRedis()
  const namespace = 'abba'
  await fill(server.url, namespace)
  const redis = new Redis(server.url)
  const f = (n: number) => n.toFixed(2)
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const a1 = await measure(A, redis, namespace)
      const b1 = await measure(B, redis, namespace)
      const b2 = await measure(B, redis, namespace)
      const a2 = await measure(A, redis, namespace)
      const mean = (x: number, y: number) => (x + y) / 2
      const ratio = (path: 'fromRedis' | 'fromCopy', q: 'p50' | 'p99') =>
        mean(b1[path][q], b2[path][q]) / mean(a1[path][q], a2[path][q])
      console.log(
        `round ${round}: from Redis p50 A ${f(a1.fromRedis.p50)}/${f(a2.fromRedis.p50)} B ${f(b1.fromRedis.p50)}/${f(b2.fromRedis.p50)} us (B/A ${f(ratio('fromRedis', 'p50'))}x), p99 A ${f(a1.fromRedis.p99)}/${f(a2.fromRedis.p99)} B ${f(b1.fromRedis.p99)}/${f(b2.fromRedis.p99)} us (${f(ratio('fromRedis', 'p99'))}x); in-process copy p50 A ${f(a1.fromCopy.p50)}/${f(a2.fromCopy.p50)} B ${f(b1.fromCopy.p50)}/${f(b2.fromCopy.p50)} us (${f(ratio('fromCopy', 'p50'))}x), p99 (${f(ratio('fromCopy', 'p99'))}x)`,
      )
    }
  } finally {
    redis.disconnect()
    await server.dispose()
  }
}

await main()
