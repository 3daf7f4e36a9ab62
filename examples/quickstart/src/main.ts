/**
 * The main demo: the plan's three speed tiers on one invoice data set, against the real services
 * (`node services/cli.mjs up` starts them; `./scripts/demo.sh` does everything).
 *
 * 1. SQL (MariaDB): 5,000 invoices in a table of their own, an aggregate query for the dashboard
 *    and a lookup by id - the 10-100 ms fallback tier.
 * 2. `@ayala/cache`: the same lookup through `getOrSet` - the first call loads from SQL, then L1
 *    hits in microseconds, a second instance reads L2 (Redis), and a tag invalidation on a write
 *    reaches both instances.
 * 3. `@ayala/search`: the invoices bulk-indexed into OpenSearch with the Spanish preset;
 *    "electronica" finds "Electrónica", autocomplete on a partial word and an invoice-number prefix.
 * 4. `@ayala/metrics-stream`: invoice events produced to Kafka, aggregated exactly once into Redis,
 *    and the dashboard read in one round trip (and from the push-invalidated in-process copy).
 *
 * Everything it creates has a unique name and is removed at the end.
 */
import { randomBytes } from 'node:crypto'
import { createCache } from '@ayala/cache'
import {
  createDashboard,
  createEventProducer,
  createMetricsConsumer,
  defineAggregates,
  defineView,
  ensureViewTopics,
  kafkaSource,
} from '@ayala/metrics-stream'
import { createSearchClient, defineIndex, field } from '@ayala/search'
import { Redis } from 'ioredis'
import { Kafka, logLevel } from 'kafkajs'
import { createConnection } from 'mariadb'

const env = {
  redis: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  database: process.env.DATABASE_URL || 'mysql://root@127.0.0.1:3306/test',
  opensearch: process.env.OPENSEARCH_URL || 'http://127.0.0.1:9200',
  kafka: (process.env.KAFKA_BROKERS || '127.0.0.1:9092').split(','),
}
const run = `demo${randomBytes(4).toString('hex')}`
const STATUSES = ['open', 'paid', 'cancelled'] as const
const WORDS = ['Electrónica', 'Pequeño', 'Mantenimiento', 'Consultoría', 'Logística', 'Papelería', 'Limpieza']

interface Invoice {
  id: number
  number: string
  clientId: number
  clientName: string
  description: string
  status: (typeof STATUSES)[number]
  totalCents: number
  issuedAt: Date
}

function invoiceAt(i: number): Invoice {
  const word = WORDS[i % WORDS.length] as string
  return {
    id: i + 1,
    number: `FAC-2026-${String(i + 1).padStart(6, '0')}`,
    clientId: (i % 50) + 1,
    clientName: `${word} ${WORDS[(i * 3) % WORDS.length]} S.L.`,
    description: `Servicio de ${word.toLowerCase()} ${i % 3 === 0 ? 'urgente' : 'mensual'}`,
    status: STATUSES[i % 3] as Invoice['status'],
    totalCents: 1_000 + ((i * 7919) % 500_000),
    issuedAt: new Date(Date.UTC(2026, 10, 1 + (i % 27), i % 24)),
  }
}

function format(us: number): string {
  return us >= 1_000 ? `${(us / 1_000).toFixed(2)} ms` : `${us.toFixed(1)} us`
}

/** Median of `times` sequential calls (one call for what only happens once, like a miss). */
async function timed<T>(fn: () => Promise<T>, times = 1): Promise<[T, string]> {
  const samples: number[] = []
  let value: T | undefined
  for (let i = 0; i < times; i++) {
    const started = process.hrtime.bigint()
    value = await fn()
    samples.push(Number(process.hrtime.bigint() - started) / 1_000)
  }
  samples.sort((a, b) => a - b)
  return [value as T, format(samples[Math.floor(samples.length / 2)] ?? Number.NaN)]
}

const rows: [string, string][] = []
const invoices = Array.from({ length: 5_000 }, (_, i) => invoiceAt(i))

// 1. SQL ------------------------------------------------------------------------------------------
const url = new URL(env.database)
const db = await createConnection({
  host: url.hostname,
  port: Number(url.port || 3306),
  user: decodeURIComponent(url.username || 'root'),
  password: decodeURIComponent(url.password),
  database: url.pathname.slice(1) || 'test',
})
const table = `${run}_invoices`
await db.query(
  `CREATE TABLE ${table} (id INT PRIMARY KEY, number VARCHAR(32), client_id INT, client_name VARCHAR(128),
   description VARCHAR(255), status VARCHAR(16), total_cents BIGINT, issued_at DATETIME(3), INDEX (status))`,
)
await db.batch(
  `INSERT INTO ${table} VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  invoices.map((v) => [
    v.id,
    v.number,
    v.clientId,
    v.clientName,
    v.description,
    v.status,
    v.totalCents,
    v.issuedAt,
  ]),
)
const loadInvoice = async (id: number) => {
  const [row] = await db.query(`SELECT * FROM ${table} WHERE id = ?`, [id])
  return row as Record<string, unknown>
}
const [, sqlDashboard] = await timed(
  () => db.query(`SELECT status, COUNT(*) n, SUM(total_cents) total FROM ${table} GROUP BY status`),
  20,
)
const [, sqlOne] = await timed(() => loadInvoice(42), 50)
rows.push(['SQL: dashboard aggregate (5,000 rows)', sqlDashboard], ['SQL: one invoice by id', sqlOne])

// 2. Cache ----------------------------------------------------------------------------------------
const cacheA = createCache({ redis: env.redis, namespace: run })
const cacheB = createCache({ redis: env.redis, namespace: run })
let loads = 0
const getInvoice = (cache: typeof cacheA, id: number) =>
  cache.getOrSet(
    `invoice:${id}`,
    () => {
      loads++
      return loadInvoice(id)
    },
    { ttl: '10m', tags: [`invoice:${id}`, 'client:7'] },
  )
const [, miss] = await timed(() => getInvoice(cacheA, 42))
const [, l1] = await timed(() => getInvoice(cacheA, 42), 1_000)
const [, l2] = await timed(() => getInvoice(cacheB, 42))
const [, l1b] = await timed(() => getInvoice(cacheB, 42), 1_000)
// L2 hits in a steady state: an instance whose L1 holds one entry, reading two keys in turn, so
// every read misses L1 and is served by Redis.
const cacheC = createCache({ redis: env.redis, namespace: run, l1MaxEntries: 1 })
await getInvoice(cacheA, 43)
let flip = 0
const [, l2Steady] = await timed(() => getInvoice(cacheC, 42 + (flip++ % 2)), 500)
rows.push(
  ['cache: miss -> SQL loader -> L1 + L2', miss],
  ['cache: L1 hit (same instance, median of 1,000)', l1],
  ['cache: L2 hit (second instance, Redis, first read)', l2],
  ['cache: L1 hit (second instance, median of 1,000)', l1b],
  ['cache: L2 hit (Redis, median of 500)', l2Steady],
)
await db.query(`UPDATE ${table} SET status = 'paid' WHERE id = 42`)
await cacheA.invalidateTags(['client:7']) // after the write commits; the bus tells instance B
// The bus is Redis pub/sub: instance B drops its L1 copy as soon as the message lands.
const busDeadline = Date.now() + 5_000
while (loads < 2 && Date.now() < busDeadline) {
  const fresh = await getInvoice(cacheB, 42)
  if (fresh.status !== 'paid') await new Promise((resolve) => setTimeout(resolve, 5))
}
console.log(
  `cache: ${loads} loader calls (the first load, and one on instance B after the tag invalidation on A)`,
)

// 3. Search ---------------------------------------------------------------------------------------
const invoiceIndex = defineIndex({
  name: `${run}-invoices`,
  id: 'id',
  fields: {
    id: field.keyword(),
    number: field.identifier(),
    description: field.text(),
    clientName: field.text(),
    status: field.keyword(),
    issuedAt: field.date(),
    totalCents: field.money(),
    suggest: field.autocomplete(),
  },
})
const search = createSearchClient({ node: env.opensearch })
await search.createIndex(invoiceIndex)
const report = await search.bulk(
  invoiceIndex,
  invoices.map((v) => ({
    id: String(v.id),
    number: v.number,
    description: v.description,
    clientName: v.clientName,
    status: v.status,
    issuedAt: v.issuedAt.toISOString(),
    totalCents: v.totalCents,
    suggest: `${v.clientName} ${v.description}`,
  })),
)
console.log(`search: bulk-indexed ${report.indexed} invoices, ${report.failed} failed`)
const q = invoiceIndex.q
await search.search(invoiceIndex, { query: q.match('description', 'warm up') })
const [found, searchTime] = await timed(
  () =>
    search.search(invoiceIndex, {
      // Either word may match (ranked by how many do): every word must match by default.
      query: q.multiMatch({ description: 1, clientName: 2 }, 'electronica pequeno', { operator: 'or' }),
      filter: [q.term('status', 'paid'), q.range('totalCents', { gte: 10_000 })],
      size: 3,
      trackTotalHits: true,
    }),
  50,
)
const [typeAhead, autocompleteTime] = await timed(
  () => search.search(invoiceIndex, { query: q.autocomplete('suggest', 'consultoria mant'), size: 3 }),
  50,
)
const [byNumber, prefixTime] = await timed(
  () => search.search(invoiceIndex, { query: q.prefix('number', 'fac-2026-00004'), size: 3 }),
  50,
)
rows.push(
  ['search: "electronica pequeno", paid, >= 100 EUR', searchTime],
  ['search: autocomplete "consultoria mant" (last word partial)', autocompleteTime],
  ['search: invoice-number prefix "fac-2026-00004"', prefixTime],
)
console.log(
  `search: "electronica pequeno" -> ${found.total?.value} hits, first: ${found.hits[0]?.source.clientName}; ` +
    `autocomplete -> ${typeAhead.hits[0]?.source.clientName} (${typeAhead.hits[0]?.source.description}); prefix -> ${byNumber.hits.map((h) => h.source.number).join(', ')}`,
)

// 4. Metrics stream -------------------------------------------------------------------------------
interface InvoiceRow {
  status: string
  totalCents: number
  issuedAt: number
}
interface InvoiceEvent {
  invoiceId: string
  at: number
  invoice: InvoiceRow
  previous?: InvoiceRow | undefined
}
const aggregates = defineAggregates<InvoiceRow>()((a) => ({
  countByStatus: a.count({ by: { status: (r) => r.status } }),
  totalByStatus: a.sum({ value: (r) => r.totalCents, by: { status: (r) => r.status } }),
}))
const view = defineView<InvoiceEvent, InvoiceRow, typeof aggregates>({
  name: 'invoices',
  eventTime: (e) => e.at,
  rows: (e) => ({ add: e.invoice, retract: e.previous }),
  aggregates,
})
const kafka = new Kafka({ clientId: run, brokers: env.kafka, logLevel: logLevel.NOTHING })
const topic = `${run}-invoice-events`
// The view's topic with its .dlq and .late topics (the consumer never creates topics).
const { topics } = await ensureViewTopics({ kafka, topic, partitions: 2 })
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
await producer.connect()
const events = createEventProducer<InvoiceEvent>({ producer, topic, key: (e) => e.invoiceId })
const toRow = (v: Invoice): InvoiceRow => ({
  status: v.status,
  totalCents: v.totalCents,
  issuedAt: v.issuedAt.getTime(),
})
await events.send(
  invoices.map((v) => ({ invoiceId: String(v.id), at: v.issuedAt.getTime(), invoice: toRow(v) })),
)
// A correction: invoice 42 moves to paid; the event carries its previous state.
const before = invoiceAt(41)
await events.send([
  { invoiceId: '42', at: Date.now(), invoice: { ...toRow(before), status: 'paid' }, previous: toRow(before) },
])
const redis = new Redis(env.redis)
const consumer = createMetricsConsumer({
  redis,
  namespace: run,
  view,
  source: kafkaSource({ kafka, groupId: run, topics: [topic] }),
})
await consumer.start()
const dashboard = createDashboard({ redis, namespace: run, view })
await dashboard.ready()
const deadline = Date.now() + 60_000
while (consumer.stats().applied < invoices.length + 1 && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 100))
}
const [dash, dashTime] = await timed(() => dashboard.read())
const [, dashCached] = await timed(() => dashboard.read(), 1_000)
const uncached = createDashboard({ redis, namespace: run, view, cache: false })
const [, dashRedis] = await timed(() => uncached.read(), 500)
await uncached.close()
rows.push(
  ['dashboard: all figures, one Redis round trip (first read)', dashTime],
  ['dashboard: all figures from Redis (median of 500)', dashRedis],
  ['dashboard: in-process copy (median of 1,000)', dashCached],
)
console.log('dashboard figures (counts and totals by status, exact):', dash.figures)
const sql = await db.query(`SELECT status, COUNT(*) n, SUM(total_cents) total FROM ${table} GROUP BY status`)
console.log(
  'the same figures from SQL:',
  sql.map((r: Record<string, unknown>) => `${r.status}=${r.n}/${r.total}`).join(' '),
)
// The demo checks what it shows: the stream's figures equal SQL's, and the cache reloaded once.
const figures = dash.figures as {
  countByStatus: Record<string, number>
  totalByStatus: Record<string, number>
}
for (const r of sql as Array<{ status: string; n: bigint | number; total: bigint | number | string }>) {
  if (
    figures.countByStatus[r.status] !== Number(r.n) ||
    figures.totalByStatus[r.status] !== Number(r.total)
  ) {
    throw new Error(`dashboard figures for ${r.status} differ from SQL`)
  }
}
if (loads !== 2) throw new Error(`expected 2 cache loader calls, saw ${loads}`)

console.log('\n| tier | time |\n|---|---:|')
for (const [name, time] of rows) console.log(`| ${name} | ${time} |`)

// Clean-up ----------------------------------------------------------------------------------------
await consumer.stop()
await dashboard.close()
await producer.disconnect()
const admin = kafka.admin()
await admin.connect()
await admin.deleteTopics({ topics: topics.map((t) => t.name) })
await admin.disconnect()
const keys = await redis.keys(`*${run}*`)
if (keys.length > 0) await redis.del(...keys)
redis.disconnect()
await cacheA.close()
await cacheB.close()
await cacheC.close()
await search.deleteIndex(invoiceIndex.name)
await db.query(`DROP TABLE ${table}`)
await db.end()
