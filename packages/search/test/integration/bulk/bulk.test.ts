/**
 * Bulk indexer on both engines: a keyset-paginated MariaDB reader as source, injected
 * per-document mapping failures, a 429 injected by a local proxy in front of the real node,
 * a resume from checkpoint, and fast-ingest settings restored.
 */
import { createServer, type Server } from 'node:http'
import { freePort, uniqueName } from '@ayala/testkit'
import type { Pool } from 'mariadb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type BulkProgress,
  createSearchClient,
  type DocumentOf,
  keysetReader,
  type SearchClient,
} from '../../../src/index.js'
import { dbPool } from '../../helpers/db.js'
import { clientFor, ENGINES } from '../../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../../helpers/invoices.js'

const ROWS = 10_000
type Invoice = DocumentOf<ReturnType<typeof basicInvoices>>

let pool: Pool
const table = uniqueName('bulk_src').replace('-', '_')

beforeAll(async () => {
  pool = dbPool()
  await pool.query(
    `CREATE TABLE ${table} (seq INT PRIMARY KEY, doc_id VARCHAR(32) NOT NULL, description VARCHAR(200), status VARCHAR(16), total_cents INT, issued_at VARCHAR(32))`,
  )
  const rows = Array.from({ length: ROWS }, (_, i) => {
    const doc = basicInvoice(i)
    return [i + 1, doc.id, doc.description, doc.status, doc.totalCents, doc.issuedAt]
  })
  await pool.batch(`INSERT INTO ${table} VALUES (?, ?, ?, ?, ?, ?)`, rows)
})

afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${table}`)
  await pool.end()
})

/** Row -> document; every 997th row gets a bad amount, every 1499th an undeclared field. */
async function* documents(source: AsyncIterable<Record<string, unknown>>): AsyncGenerator<Invoice> {
  for await (const row of source) {
    const seq = row.seq as number
    const base = basicInvoice(seq - 1)
    const doc: Record<string, unknown> = {
      ...base,
      description: row.description,
      status: row.status,
      totalCents: row.total_cents,
      issuedAt: row.issued_at,
    }
    if (seq % 997 === 0) doc.totalCents = 'twelve euros'
    if (seq % 1499 === 0) doc.unexpected = true
    yield doc as Invoice
  }
}

const badIds = Array.from({ length: ROWS }, (_, i) => i + 1)
  .filter((seq) => seq % 997 === 0 || seq % 1499 === 0)
  .map((seq) => basicInvoice(seq - 1).id)
  .sort()

describe.each(ENGINES)('bulk indexer on $engine', ({ engine, node }) => {
  let search: SearchClient
  const created: string[] = []

  beforeAll(() => {
    search = clientFor(engine)
  })
  afterAll(async () => {
    await search.deleteIndex(created)
    await search.close()
  })

  async function freshIndex() {
    const def = basicInvoices(uniqueName('bulk'))
    await search.createIndex(def)
    created.push(def.name)
    return def
  }

  const count = async (index: string) => (await (await search.raw()).count({ index })).count

  it('indexes a keyset-read table, reports every rejected document with its reason, restores settings', async () => {
    const invoices = await freshIndex()
    const progress: BulkProgress[] = []
    const checkpoints: number[] = []
    const report = await search.bulk(
      invoices,
      documents(keysetReader({ query: pool.query.bind(pool), table, key: 'seq', pageSize: 700 })),
      {
        fastIngest: true,
        concurrency: 3,
        onProgress: (p) => progress.push(p),
        checkpointOf: (doc) => Number(doc.id.slice(4)) + 1,
        saveCheckpoint: (seq) => {
          checkpoints.push(seq)
        },
      },
    )
    expect(report.read).toBe(ROWS)
    expect(report.indexed).toBe(ROWS - badIds.length)
    expect(report.failed).toBe(badIds.length)
    expect(report.failures.map((f) => f.id).sort()).toEqual(badIds)
    for (const failure of report.failures) {
      expect(failure.status).toBe(400)
      expect(failure.type).toMatch(/parsing|strict_dynamic|mapper/)
      expect(failure.reason.length).toBeGreaterThan(0)
    }
    expect(await count(invoices.name)).toBe(ROWS - badIds.length)
    // Adaptive sizing grew past the first batch; checkpoints only move forward and end at the last row.
    expect(Math.max(...progress.map((p) => p.batchSize))).toBeGreaterThan(100)
    expect(checkpoints).toEqual([...checkpoints].sort((a, b) => a - b))
    expect(report.checkpoint).toBe(ROWS)
    const settings = await (await search.raw()).indices.getSettings({
      index: invoices.name,
      flat_settings: true,
    })
    const flat = settings[invoices.name]?.settings as Record<string, unknown>
    expect(flat['index.refresh_interval']).toBeUndefined()
    expect(search.bulkStats()).toMatchObject({ loads: 1, failed: badIds.length })
  })

  it('builds the next batch while requests are in flight, and reads no further than that batch', async () => {
    const invoices = await freshIndex()
    const batch = 50
    const concurrency = 2
    let read = 0
    let settled = 0
    let furthestAhead = 0
    async function* source() {
      for (let i = 0; i < 2_000; i++) {
        read++
        furthestAhead = Math.max(furthestAhead, read - settled)
        yield basicInvoice(i)
      }
    }
    const report = await search.bulk(invoices, source(), {
      batchSize: batch,
      maxBatchSize: batch,
      concurrency,
      onProgress: (p) => {
        settled = p.indexed + p.failed
      },
    })
    expect(report.indexed).toBe(2_000)
    // The batch that waits for a slot is read while `concurrency` batches are in flight (so the
    // engine is never idle while Node builds a request), plus the one document that closes it.
    expect(furthestAhead).toBe((concurrency + 1) * batch + 1)
  })

  it('resumes from the checkpoint after the source fails mid-way', async () => {
    const invoices = await freshIndex()
    let saved: number | undefined
    async function* failing() {
      for await (const row of keysetReader<Record<string, unknown>>({
        query: pool.query.bind(pool),
        table,
        key: 'seq',
      })) {
        if ((row.seq as number) === 6_001) throw new Error('database connection lost')
        yield row
      }
    }
    const options = {
      checkpointOf: (doc: Invoice) => Number(doc.id.slice(4)) + 1,
      saveCheckpoint: (seq: number) => {
        saved = seq
      },
    }
    await expect(search.bulk(invoices, documents(failing()), options)).rejects.toThrow(
      'database connection lost',
    )
    const resumeFrom = saved as number
    expect(resumeFrom).toBeGreaterThan(0)
    expect(resumeFrom).toBeLessThanOrEqual(6_000)
    const resumed = await search.bulk(
      invoices,
      documents(keysetReader({ query: pool.query.bind(pool), table, key: 'seq', after: resumeFrom })),
      options,
    )
    expect(resumed.read).toBe(ROWS - resumeFrom)
    await search.refresh(invoices.name)
    expect(await count(invoices.name)).toBe(ROWS - badIds.length)
  })

  it('retries a 429 with backoff and loses nothing', async () => {
    const invoices = await freshIndex()
    const port = await freePort()
    let rejected = 0
    let forwarded = 0
    const proxy: Server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (chunk: Buffer) => chunks.push(chunk))
      req.on('end', () => {
        if (req.url?.startsWith('/_bulk') && rejected === 0) {
          rejected++
          res.writeHead(429, { 'content-type': 'application/json', 'x-elastic-product': 'Elasticsearch' })
          res.end(
            JSON.stringify({
              error: { type: 'es_rejected_execution_exception', reason: 'queue full' },
              status: 429,
            }),
          )
          return
        }
        forwarded++
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)),
        ) as Record<string, string>
        fetch(`${node}${req.url}`, {
          method: req.method ?? 'GET',
          headers,
          ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
        })
          .then(async (upstream) => {
            const out: Record<string, string> = {}
            upstream.headers.forEach((value, key) => {
              if (key !== 'content-length' && key !== 'content-encoding' && key !== 'transfer-encoding')
                out[key] = value
            })
            res.writeHead(upstream.status, out)
            res.end(Buffer.from(await upstream.arrayBuffer()))
          })
          .catch((error: unknown) => {
            res.writeHead(502)
            res.end(String(error))
          })
      })
    })
    await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve))
    const viaProxy = createSearchClient({ node: `http://127.0.0.1:${port}`, engine })
    try {
      const docs = Array.from({ length: 2_000 }, (_, i) => basicInvoice(i))
      const report = await viaProxy.bulk(invoices, docs, { retryDelay: 10 })
      expect(rejected).toBe(1)
      expect(forwarded).toBeGreaterThan(0)
      expect(report.retries).toBeGreaterThanOrEqual(1)
      expect(report.failures).toEqual([])
      expect(report.indexed).toBe(2_000)
      expect(await count(invoices.name)).toBe(2_000)
    } finally {
      await viaProxy.close()
      await new Promise<void>((resolve) => proxy.close(() => resolve()))
    }
  })

  it('reports documents as failed when retries run out on an unreachable node', async () => {
    const invoices = await freshIndex()
    const down = createSearchClient({ node: 'http://127.0.0.1:9', engine, requestTimeout: '2s' })
    try {
      const report = await down.bulk(invoices, [basicInvoice(1), basicInvoice(2)], {
        retries: 2,
        retryDelay: 1,
        refresh: false,
      })
      expect(report.indexed).toBe(0)
      expect(report.failures.map((f) => [f.id, f.type])).toEqual([
        ['inv-000001', 'retries_exhausted'],
        ['inv-000002', 'retries_exhausted'],
      ])
      expect(report.retries).toBe(2)
    } finally {
      await down.close()
    }
  })
})
