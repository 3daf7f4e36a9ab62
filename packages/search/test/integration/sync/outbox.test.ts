/**
 * Transactional outbox on MariaDB, drained into both engines with external versioning.
 */
import { once } from 'node:events'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { uniqueName } from '@ayala/testkit'
import type { Pool } from 'mariadb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createOutbox,
  createSearchClient,
  type DocumentOf,
  type SearchClient,
  type SqlExecutor,
} from '../../../src/index.js'
import { dbPool } from '../../helpers/db.js'
import { clientFor, ENGINES, urls } from '../../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../../helpers/invoices.js'

type Invoice = DocumentOf<ReturnType<typeof basicInvoices>>

let pool: Pool
const rowsTable = uniqueName('ob_rows').replace('-', '_')
const created: string[] = []

beforeAll(async () => {
  pool = dbPool()
  await pool.query(
    `CREATE TABLE ${rowsTable} (id VARCHAR(32) PRIMARY KEY, version INT NOT NULL, status VARCHAR(16) NOT NULL)`,
  )
})
afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${rowsTable}`)
  for (const table of created) await pool.query(`DROP TABLE IF EXISTS ${table}`)
  await pool.end()
})

/**
 * An HTTP proxy to `target` that holds every `POST /_bulk` until `release()`: an engine that
 * takes its time, with the requests still answered by the real node.
 */
async function holdingProxy(target: string) {
  const upstream = new URL(target)
  let release!: () => void
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  let arrived!: () => void
  const bulkArrived = new Promise<void>((resolve) => {
    arrived = resolve
  })
  const server = createServer(async (req, res) => {
    if (req.method === 'POST' && req.url?.startsWith('/_bulk')) {
      arrived()
      await released
    }
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    forward.on('error', (error) => res.destroy(error))
    req.pipe(forward)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    bulkArrived,
    release,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

function freshOutbox() {
  const table = uniqueName('ob').replace('-', '_')
  created.push(table)
  return createOutbox({ table })
}

describe.each(ENGINES)('outbox sync on $engine', ({ engine }) => {
  let search: SearchClient
  const invoices = basicInvoices(uniqueName('outbox'))

  beforeAll(async () => {
    search = clientFor(engine)
    await search.createIndex(invoices)
  })
  afterAll(async () => {
    await search.deleteIndex(invoices.name)
    await search.close()
  })

  const get = async (id: string) => {
    const raw = await search.raw()
    const response = await raw.get<Invoice>({ index: invoices.name, id }, { ignore: [404] })
    return response.found ? { version: response._version, doc: response._source } : undefined
  }

  it('never lets an older event overwrite a newer document, deletes included', async () => {
    const outbox = freshOutbox()
    await outbox.ensureTable(pool)
    const doc = (i: number, status: string) => ({ ...basicInvoice(i), status })
    // Events committed out of order: v3 before v1 and v2 for the same invoice; a delete (v5)
    // committed before a late update (v4) of another invoice.
    await outbox.enqueue(pool, [
      { op: 'upsert', index: invoices.name, id: 'inv-000001', version: 3, document: doc(1, 'paid') },
      { op: 'upsert', index: invoices.name, id: 'inv-000001', version: 1, document: doc(1, 'draft') },
      { op: 'upsert', index: invoices.name, id: 'inv-000002', version: 1, document: doc(2, 'draft') },
      { op: 'upsert', index: invoices.name, id: 'inv-000001', version: 2, document: doc(1, 'issued') },
    ])
    const worker = outbox.worker({ search, db: pool, batchSize: 2 })
    const first = await worker.drainAll()
    expect(first).toMatchObject({ claimed: 4, applied: 2, stale: 2, rejected: 0 })
    await outbox.enqueue(pool, [
      { op: 'delete', index: invoices.name, id: 'inv-000002', version: 5 },
      { op: 'upsert', index: invoices.name, id: 'inv-000002', version: 4, document: doc(2, 'overdue') },
    ])
    const second = await worker.drainAll()
    expect(second).toMatchObject({ claimed: 2, applied: 1, stale: 1 })
    expect(await get('inv-000001')).toMatchObject({ version: 3, doc: { status: 'paid' } })
    expect(await get('inv-000002')).toBeUndefined()
    expect(await outbox.lag(pool)).toMatchObject({ pending: 0, dead: 0, oldestAgeMs: null })
  })

  it('records events in the same transaction as the row (rollback leaves none) through a repository hook', async () => {
    const outbox = freshOutbox()
    await outbox.ensureTable(pool)
    const save = outbox.after(
      async (tx: SqlExecutor, id: string, status: string) => {
        await tx.query(
          `INSERT INTO ${rowsTable} (id, version, status) VALUES (?, 1, ?) ON DUPLICATE KEY UPDATE version = version + 1, status = VALUES(status)`,
          [id, status],
        )
        const [row] = Array.from(
          (await tx.query(`SELECT version FROM ${rowsTable} WHERE id = ?`, [id])) as Array<{
            version: number
          }>,
        )
        return { id, status, version: row?.version ?? 0 }
      },
      (saved) => ({
        op: 'upsert',
        index: invoices.name,
        id: saved.id,
        version: saved.version,
        document: { ...basicInvoice(7), id: saved.id, status: saved.status },
      }),
    )
    const id = uniqueName('hook')
    const conn = await pool.getConnection()
    try {
      await conn.beginTransaction()
      await save(conn, id, 'draft')
      await conn.rollback()
      expect((await outbox.lag(pool)).pending).toBe(0)
      await conn.beginTransaction()
      await save(conn, id, 'draft')
      await save(conn, id, 'paid')
      await conn.commit()
    } finally {
      await conn.release()
    }
    expect((await outbox.lag(pool)).pending).toBe(2)
    await outbox.worker({ search, db: pool }).drainAll()
    expect(await get(id)).toMatchObject({ version: 2, doc: { status: 'paid' } })
    await pool.query(`DELETE FROM ${rowsTable} WHERE id = ?`, [id])
  })

  it('keeps events while the engine is down and shows the lag; rejected events become dead letters', async () => {
    const outbox = freshOutbox()
    await outbox.ensureTable(pool)
    await outbox.enqueue(pool, [
      { op: 'upsert', index: invoices.name, id: 'inv-000010', version: 1, document: basicInvoice(10) },
      {
        op: 'upsert',
        index: invoices.name,
        id: 'inv-000011',
        version: 1,
        document: { ...basicInvoice(11), totalCents: 'not a number' },
      },
    ])
    const down = createSearchClient({
      node: 'http://127.0.0.1:9',
      engine,
      maxRetries: 0,
      requestTimeout: '2s',
    })
    try {
      await expect(outbox.worker({ search: down, db: pool }).drainOnce()).rejects.toMatchObject({
        code: 'E_SEARCH_ENGINE',
        retriable: true,
      })
    } finally {
      await down.close()
    }
    const lag = await outbox.lag(pool)
    expect(lag.pending).toBe(2)
    expect(lag.oldestAgeMs).toBeGreaterThanOrEqual(0)

    const worker = outbox.worker({ search, db: pool, maxAttempts: 2 })
    const errors: unknown[] = []
    worker.on('error', (error) => errors.push(error))
    const first = await worker.drainOnce()
    expect(first).toMatchObject({ applied: 1, rejected: 1 })
    await worker.drainOnce()
    expect(await outbox.lag(pool, { maxAttempts: 2 })).toMatchObject({ pending: 0, dead: 1 })
    const [dead] = await outbox.deadLetters(pool, { maxAttempts: 2 })
    expect(dead).toMatchObject({ id: 'inv-000011', attempts: 2 })
    expect(dead?.lastError).toMatch(/^400 /)
    expect(await get('inv-000010')).toBeDefined()
    expect(errors).toEqual([])
  })

  it('a drain waiting on the engine does not block writers: their events commit meanwhile', async () => {
    const outbox = freshOutbox()
    await outbox.ensureTable(pool)
    const event = (i: number) =>
      ({
        op: 'upsert',
        index: invoices.name,
        id: `inv-0000${i}`,
        version: 1,
        document: basicInvoice(i),
      }) as const
    await outbox.enqueue(pool, [event(30)])
    const proxy = await holdingProxy(engine === 'opensearch' ? urls.opensearch : urls.elasticsearch)
    const slow = createSearchClient({ node: proxy.url, engine })
    const writer = await pool.getConnection()
    try {
      const worker = outbox.worker({ search: slow, db: pool })
      const draining = worker.drainOnce()
      await proxy.bulkArrived // the claim transaction is open; its bulk request is held
      // A writer's transaction recording an event must not queue behind the drain's locks (a
      // lock held until the engine answers turns every write into a wait on the search engine).
      // 3 s: a lock wait fails the test instead of hanging it until the proxy is released.
      await writer.query('SET SESSION innodb_lock_wait_timeout = 3')
      await writer.beginTransaction()
      await outbox.enqueue(writer, [event(31)])
      await writer.commit()
      proxy.release()
      expect(await draining).toMatchObject({ claimed: 1, applied: 1 })
      expect(await worker.drainAll()).toMatchObject({ claimed: 1, applied: 1 })
    } finally {
      proxy.release()
      await writer.release()
      await slow.close()
      await proxy.close()
    }
    expect(await get('inv-000031')).toBeDefined()
  })

  it('runs in the background until stopped', async () => {
    const outbox = freshOutbox()
    await outbox.ensureTable(pool)
    const worker = outbox.worker({ search, db: pool, pollInterval: 20 })
    worker.start()
    try {
      await outbox.enqueue(pool, {
        op: 'upsert',
        index: invoices.name,
        id: 'inv-000020',
        version: 1,
        document: basicInvoice(20),
      })
      const deadline = Date.now() + 30_000
      while ((await outbox.lag(pool)).pending > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50))
      expect((await outbox.lag(pool)).pending).toBe(0)
    } finally {
      await worker.stop()
    }
    expect(await get('inv-000020')).toBeDefined()
  })
})
