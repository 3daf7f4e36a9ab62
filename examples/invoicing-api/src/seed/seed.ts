/**
 * The seed: writes the deterministic data set to MariaDB (through Prisma, in chunks), bulk-indexes
 * it into a new search index, produces one "created" event per invoice to a new Kafka topic, and
 * records the new dataset generation. The previous generation's index, topic, consumer group and
 * Redis keys are removed afterwards, so re-seeding leaves nothing behind on the shared servers.
 */
import { randomBytes } from 'node:crypto'
import { createSearchClient } from '@ayala/search'
import { Redis } from 'ioredis'
import { createConnection } from 'mariadb'
import { type ResourceNames, resourceNames, type ServiceAddresses, searchClientOptions } from '../config.ts'
import { openDatabase, poolConfig } from '../database/connection.ts'
import { kafkaClient, openInvoiceEvents } from '../infrastructure.ts'
import { type InvoiceView, isoDate } from '../invoices/invoice.ts'
import { invoiceFigures } from '../invoices/invoice-events.ts'
import { invoiceIndex, toInvoiceDocument } from '../invoices/invoice-index.ts'
import { type SeedClient, type SeedInvoice, seedClients, seedInvoices } from './dataset.ts'

/** Options of {@link seed}. */
export interface SeedOptions {
  /** Invoices to write. @default 20_000 */
  count?: number | undefined
  /** Progress lines. @default console.log */
  log?: ((line: string) => void) | undefined
  /**
   * Called after each chunk of each phase with what is done so far: invoices written to MariaDB,
   * documents acknowledged by the search engine, events acknowledged by Kafka (for a progress bar).
   */
  progress?: ((phase: SeedPhase, done: number, total: number) => void) | undefined
}

/** The phases of a seed, in order. */
export type SeedPhase = 'database' | 'search' | 'kafka'

/** What a seed wrote. */
export interface SeedReport {
  names: ResourceNames
  invoices: number
  lines: number
  clients: number
  indexed: number
  events: number
  /** Milliseconds per phase. */
  timings: { database: number; search: number; kafka: number }
}

const CHUNK = 2_000

/**
 * The shape of what a seed writes (recorded in `dataset.format`): 2 since the invoice events
 * carry the client and the documents' autocomplete field the line descriptions. The demo seeds
 * again rather than reuse a dataset of another format.
 */
export const DATASET_FORMAT = 2

/** The view of a seeded invoice (what the API would serve), for its search document. */
function seededView(invoice: SeedInvoice, client: SeedClient): InvoiceView {
  return {
    id: invoice.id,
    number: invoice.number,
    status: invoice.status,
    issuedAt: isoDate(invoice.issuedAt),
    dueAt: isoDate(invoice.dueAt),
    currency: invoice.currency,
    netCents: invoice.netCents,
    taxCents: invoice.taxCents,
    totalCents: invoice.totalCents,
    description: invoice.description,
    version: 1,
    client,
    lines: invoice.lines,
  }
}

/** Seed `count` invoices into a new dataset generation. */
export async function seed(addresses: ServiceAddresses, options: SeedOptions = {}): Promise<SeedReport> {
  const count = options.count ?? 20_000
  const log = options.log ?? ((line: string) => console.log(line))
  const progress = options.progress ?? (() => undefined)
  if (!Number.isInteger(count) || count < 1) throw new Error('count must be a positive integer')
  const previous = await currentGeneration(addresses.databaseUrl)
  const names = resourceNames(randomBytes(5).toString('hex'))
  const clients = seedClients(count)
  const clientById = new Map(clients.map((client) => [client.id, client]))

  // 1. MariaDB: the clear-out through Prisma, the rows with the driver's batch protocol (one
  // round trip per chunk; Prisma's createMany sends one INSERT per chunk too, but its query
  // compiler costs ~5x more CPU for 60,000 rows on this 2-core machine).
  let started = Date.now()
  const db = openDatabase(addresses.databaseUrl, 4)
  let lines = 0
  try {
    await db.prisma.$executeRawUnsafe('DELETE FROM dataset')
    await db.prisma.$executeRawUnsafe('DELETE FROM invoice_lines')
    await db.prisma.$executeRawUnsafe('DELETE FROM invoices')
    await db.prisma.$executeRawUnsafe('DELETE FROM clients')
    // Events of the previous generation not yet indexed would recreate its index.
    await db.prisma.$executeRawUnsafe(`DROP TABLE IF EXISTS \`${names.outboxTable}\``)
    await db.prisma.client.createMany({ data: clients })
    for (let from = 0; from < count; from += CHUNK) {
      const chunk = seedInvoices(from, Math.min(count, from + CHUNK), clients.length)
      await db.pool.batch(
        `INSERT INTO invoices (id, number, client_id, status, issued_at, due_at, currency, net_cents, tax_cents,
           total_cents, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        chunk.map((v) => [
          v.id,
          v.number,
          v.clientId,
          v.status,
          isoDate(v.issuedAt),
          isoDate(v.dueAt),
          v.currency,
          v.netCents,
          v.taxCents,
          v.totalCents,
          v.description,
        ]),
      )
      const chunkLines = chunk.flatMap((invoice) =>
        invoice.lines.map((line) => [
          invoice.id,
          line.position,
          line.description,
          line.quantity,
          line.unitPriceCents,
          line.taxRateBp,
        ]),
      )
      await db.pool.batch(
        `INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price_cents, tax_rate_bp)
         VALUES (?, ?, ?, ?, ?, ?)`,
        chunkLines,
      )
      lines += chunkLines.length
      progress('database', Math.min(count, from + CHUNK), count)
    }
    await db.prisma.$executeRawUnsafe('ANALYZE TABLE clients, invoices, invoice_lines')
  } finally {
    await db.close()
  }
  const database = Date.now() - started
  log(`seed: ${count} invoices, ${lines} lines, ${clients.length} clients in MariaDB (${database} ms)`)

  // 2. The search index.
  started = Date.now()
  const definition = invoiceIndex(names.index)
  const search = createSearchClient(searchClientOptions(addresses))
  let indexed = 0
  try {
    await search.createIndex(definition)
    const documents = function* () {
      for (let from = 0; from < count; from += CHUNK) {
        for (const invoice of seedInvoices(from, Math.min(count, from + CHUNK), clients.length)) {
          yield toInvoiceDocument(seededView(invoice, clientById.get(invoice.clientId) as SeedClient))
        }
      }
    }
    // Version 1 as an external version: the outbox's later upserts (version 2, 3...) replace it,
    // an older event never does.
    const report = await search.bulk(definition, documents(), {
      fastIngest: true,
      batchSize: 1_000,
      versionOf: () => 1,
      onProgress: (done) => progress('search', done.indexed, count),
    })
    if (report.failed > 0) throw new Error(`search: ${report.failed} documents failed to index`)
    indexed = report.indexed
    await search.refresh(definition.name)
  } finally {
    await search.close()
  }
  const searchMs = Date.now() - started
  log(`seed: ${indexed} documents indexed into ${names.index} (${searchMs} ms)`)

  // 3. Kafka: one "created" event per invoice.
  started = Date.now()
  const kafka = kafkaClient(addresses, 'ayala-invoicing-seed')
  const events = await openInvoiceEvents(kafka, names.topic)
  let produced = 0
  try {
    for (let from = 0; from < count; from += CHUNK) {
      const chunk = seedInvoices(from, Math.min(count, from + CHUNK), clients.length)
      await events.send(
        chunk.map((invoice) => ({
          invoiceId: String(invoice.id),
          version: 1,
          at: invoice.issuedAt.getTime(),
          invoice: invoiceFigures({
            ...invoice,
            issuedAt: isoDate(invoice.issuedAt),
            client: { id: invoice.clientId },
          }),
        })),
      )
      produced += chunk.length
      progress('kafka', produced, count)
    }
  } finally {
    await events.close()
  }
  const kafkaMs = Date.now() - started
  log(`seed: ${produced} events produced to ${names.topic} (${kafkaMs} ms)`)

  // 4. The new generation is live; drop the previous one's resources.
  const { connectionLimit: _, ...config } = poolConfig(addresses.databaseUrl)
  const connection = await createConnection(config)
  try {
    await connection.query('INSERT INTO dataset (id, generation, invoices, format) VALUES (1, ?, ?, ?)', [
      names.generation,
      count,
      DATASET_FORMAT,
    ])
  } finally {
    await connection.end()
  }
  if (previous !== undefined && previous !== names.generation) {
    await dropResources(addresses, resourceNames(previous), log)
  }
  return {
    names,
    invoices: count,
    lines,
    clients: clients.length,
    indexed,
    events: produced,
    timings: { database, search: searchMs, kafka: kafkaMs },
  }
}

/** The generation recorded in the database, if any (and if the table exists). */
async function currentGeneration(databaseUrl: string): Promise<string | undefined> {
  const { connectionLimit: _, ...config } = poolConfig(databaseUrl)
  const db = await createConnection(config)
  try {
    const [row] = (await db.query('SELECT generation FROM dataset WHERE id = 1')) as Array<{
      generation: string
    }>
    return row?.generation
  } finally {
    await db.end()
  }
}

/**
 * Remove a generation's search index, Kafka topic and consumer group, and Redis keys. A failure is
 * reported through `log` and the rest still runs (the data is already replaced; leftovers only
 * take space).
 */
export async function dropResources(
  addresses: ServiceAddresses,
  names: ResourceNames,
  log: (line: string) => void = (line) => console.log(line),
): Promise<void> {
  const steps: Array<[string, () => Promise<void>]> = [
    [
      `index ${names.index}`,
      async () => {
        const search = createSearchClient(searchClientOptions(addresses))
        try {
          const raw = await search.raw()
          if (await raw.indices.exists({ index: names.index })) await search.deleteIndex(names.index)
        } finally {
          await search.close()
        }
      },
    ],
    [
      `topic ${names.topic}`,
      async () => {
        const admin = kafkaClient(addresses, 'ayala-invoicing-cleanup').admin()
        await admin.connect()
        try {
          // The events topic and the Flink dashboard job's changelog topics, where they exist.
          const listed = new Set(await admin.listTopics())
          const topics = [names.topic, ...Object.values(names.changelogTopics)].filter((t) => listed.has(t))
          if (topics.length > 0) await admin.deleteTopics({ topics })
          const groups = (await admin.listGroups()).groups.map((group) => group.groupId)
          const ours = [names.groupId, names.flinkGroupId].filter((group) => groups.includes(group))
          if (ours.length > 0) await admin.deleteGroups(ours)
        } finally {
          await admin.disconnect()
        }
      },
    ],
    [
      `Redis keys of ${names.generation}`,
      async () => {
        const redis = new Redis(addresses.redisUrl, { ...addresses.redisOptions, lazyConnect: true })
        await redis.connect()
        try {
          let cursor = '0'
          do {
            const [next, keys] = await redis.scan(
              cursor,
              'MATCH',
              `*ayala-invoicing-${names.generation}*`,
              'COUNT',
              1_000,
            )
            cursor = next
            if (keys.length > 0) await redis.unlink(...keys)
          } while (cursor !== '0')
        } finally {
          redis.disconnect()
        }
      },
    ],
  ]
  for (const [what, step] of steps) {
    try {
      await step()
    } catch (error) {
      log(`cleanup: could not remove ${what}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
}

/**
 * The dataset already in the database when it holds `count` invoices and its index and topic are
 * there (the data is deterministic, so seeding again would write the same rows): the demo reuses
 * it instead of spending most of its time re-indexing.
 */
export async function reusableDataset(
  addresses: ServiceAddresses,
  count: number,
): Promise<ResourceNames | undefined> {
  let generation: string | undefined
  const { connectionLimit: _, ...config } = poolConfig(addresses.databaseUrl)
  const db = await createConnection(config)
  try {
    const [row] = (await db.query('SELECT generation, invoices, format FROM dataset WHERE id = 1')) as Array<{
      generation: string
      invoices: number
      format: number
    }>
    const [rows] = (await db.query('SELECT COUNT(*) AS n FROM invoices')) as Array<{ n: bigint }>
    if (
      row !== undefined &&
      row.invoices === count &&
      Number(row.format) === DATASET_FORMAT &&
      Number(rows?.n) === count
    )
      generation = row.generation
  } finally {
    await db.end()
  }
  if (generation === undefined) return undefined
  const names = resourceNames(generation)
  const search = createSearchClient(searchClientOptions(addresses))
  try {
    const raw = await search.raw()
    if (!(await raw.indices.exists({ index: names.index }))) return undefined
    if ((await raw.count({ index: names.index })).count !== count) return undefined
    // An index of an older definition (a field added since) would refuse today's documents
    // (strict mapping): seed again instead.
    const mapping = await raw.indices.getMapping({ index: names.index })
    const properties = Object.values(mapping)[0]?.mappings?.properties ?? {}
    const expected = Object.keys(invoiceIndex(names.index).mappings.properties ?? {})
    if (!expected.every((field) => field in properties)) return undefined
  } finally {
    await search.close()
  }
  const admin = kafkaClient(addresses, 'ayala-invoicing-seed').admin()
  await admin.connect()
  try {
    return (await admin.listTopics()).includes(names.topic) ? names : undefined
  } finally {
    await admin.disconnect()
  }
}
