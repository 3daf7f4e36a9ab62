/**
 * Transactional outbox on MariaDB, drained into both engines with external versioning.
 */
import { uniqueName } from '@ayala/testkit'
import type { Pool } from 'mariadb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createOutbox,
  createSearchClient,
  type DocumentOf,
  type SearchClient,
  type SqlExecutor,
} from '../../src/index.js'
import { basicInvoice, basicInvoices } from '../fixtures/invoices.js'
import { dbPool } from './db.js'
import { clientFor, ENGINES } from './helpers.js'

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
