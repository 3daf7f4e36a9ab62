/**
 * `@IndexOnWrite` as NestJS compiles it (legacy decorators, see the tsconfig.json beside this
 * file) and the `indexOnWrite` wrapper, on a repository writing real MariaDB rows, drained into
 * both real engines with external versioning.
 */
import { uniqueName } from '@ayala/testkit'
import type { Pool, PoolConnection } from 'mariadb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createOutbox,
  createSearchClient,
  type DocumentOf,
  IndexOnWrite,
  indexOnWrite,
  type Outbox,
  OutboxEnqueueError,
  type SearchClient,
  type SqlExecutor,
} from '../../../../src/index.js'
import { dbPool } from '../../../helpers/db.js'
import { clientFor, ENGINES } from '../../../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../../../helpers/invoices.js'

type IndexedInvoice = DocumentOf<ReturnType<typeof basicInvoices>>

interface Saved {
  id: string
  status: string
  version: number
}

let pool: Pool
const rowsTable = uniqueName('iow_rows').replaceAll('-', '_')
const outboxTables: string[] = []

beforeAll(async () => {
  pool = dbPool()
  await pool.query(
    `CREATE TABLE ${rowsTable} (id VARCHAR(64) PRIMARY KEY, version INT NOT NULL, status VARCHAR(16) NOT NULL)`,
  )
})
afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${rowsTable}`)
  for (const table of outboxTables) await pool.query(`DROP TABLE IF EXISTS ${table}`)
  await pool.end()
})

function outboxName(): string {
  const table = uniqueName('iow_ob').replaceAll('-', '_')
  outboxTables.push(table)
  return table
}

async function freshOutbox(): Promise<Outbox> {
  const outbox = createOutbox({ table: outboxName() })
  await outbox.ensureTable(pool)
  return outbox
}

/** Run `work` in the caller's transaction, or in a short transaction of its own that commits. */
async function inTransaction<T>(
  tx: SqlExecutor | undefined,
  work: (tx: SqlExecutor) => Promise<T>,
): Promise<T> {
  if (tx) return work(tx)
  const conn = await pool.getConnection()
  try {
    await conn.beginTransaction()
    const result = await work(conn)
    await conn.commit()
    return result
  } catch (error) {
    await conn.rollback()
    throw error
  } finally {
    await conn.release()
  }
}

async function versionOf(tx: SqlExecutor, id: string): Promise<number | undefined> {
  const [row] = Array.from(
    (await tx.query(`SELECT version FROM ${rowsTable} WHERE id = ? FOR UPDATE`, [id])) as Array<{
      version: number
    }>,
  )
  return row?.version
}

let indexName = ''

/** A repository as a NestJS provider would have it: pool and outbox injected, writes decorated. */
class InvoiceRepository {
  /** When set, `save` waits for it after its row committed and before returning. */
  hold: Promise<void> | undefined

  constructor(
    readonly pool: Pool,
    readonly outbox: Outbox,
  ) {}

  @IndexOnWrite({
    outbox: 'outbox',
    db: 'pool',
    transaction: (_id: string, _status: string, tx?: SqlExecutor) => tx,
    event: (saved: Saved) => ({
      op: 'upsert',
      index: indexName,
      id: saved.id,
      version: saved.version,
      document: { ...basicInvoice(3), id: saved.id, status: saved.status },
    }),
  })
  async save(id: string, status: string, tx?: SqlExecutor): Promise<Saved> {
    const hold = this.hold
    const saved = await inTransaction(tx, async (conn) => {
      if (status.length > 16) throw new Error('status too long') // the write fails: no event
      await conn.query(
        `INSERT INTO ${rowsTable} (id, version, status) VALUES (?, 1, ?) ON DUPLICATE KEY UPDATE version = version + 1, status = VALUES(status)`,
        [id, status],
      )
      return { id, status, version: (await versionOf(conn, id)) ?? 0 }
    })
    await hold
    return saved
  }

  @IndexOnWrite({
    outbox: (self: InvoiceRepository) => self.outbox,
    db: 'pool',
    transaction: (_id: string, tx?: SqlExecutor) => tx,
    // A delete bumps the version too, so an older upsert arriving later cannot resurrect it.
    event: (deleted: Saved | undefined) =>
      deleted && { op: 'delete', index: indexName, id: deleted.id, version: deleted.version },
  })
  async remove(id: string, tx?: SqlExecutor): Promise<Saved | undefined> {
    return inTransaction(tx, async (conn) => {
      const version = await versionOf(conn, id)
      if (version === undefined) return undefined
      await conn.query(`DELETE FROM ${rowsTable} WHERE id = ?`, [id])
      return { id, status: 'deleted', version: version + 1 }
    })
  }
}

/** Which decorator calling convention this file was compiled with (legacy: 3 arguments). */
const conventions: string[] = []
function probe(...args: unknown[]): void {
  conventions.push(args.length === 3 ? 'legacy' : 'standard')
}
class Probe {
  @probe
  method(): string {
    return 'probe'
  }
}

it('is compiled with legacy decorators, as NestJS code is', () => {
  expect(new Probe().method()).toBe('probe')
  expect(conventions).toEqual(['legacy'])
})

describe.each(ENGINES)('repository writes synced through the outbox on $engine', ({ engine }) => {
  let search: SearchClient
  const invoices = basicInvoices(uniqueName('iow'))

  beforeAll(async () => {
    indexName = invoices.name
    search = clientFor(engine)
    await search.createIndex(invoices)
  })
  afterAll(async () => {
    await search.deleteIndex(invoices.name)
    await search.close()
  })

  const get = async (id: string) => {
    const raw = await search.raw()
    const response = await raw.get<IndexedInvoice>({ index: invoices.name, id }, { ignore: [404] })
    return response.found ? { version: response._version, status: response._source?.status } : undefined
  }

  const withConnection = async (work: (conn: PoolConnection) => Promise<void>) => {
    const conn = await pool.getConnection()
    try {
      await work(conn)
    } finally {
      await conn.release()
    }
  }

  it('records the event in the caller transaction: a rollback indexes nothing, a commit indexes the row', async () => {
    const repo = new InvoiceRepository(pool, await freshOutbox())
    const worker = repo.outbox.worker({ search, db: pool })
    const id = uniqueName('tx')
    await withConnection(async (conn) => {
      await conn.beginTransaction()
      await repo.save(id, 'draft', conn)
      expect((await repo.outbox.lag(conn)).pending).toBe(1) // visible inside the transaction...
      await conn.rollback()
    })
    expect(await repo.outbox.lag(pool)).toMatchObject({ pending: 0, dead: 0 }) // ...gone with it
    expect(await worker.drainAll()).toMatchObject({ claimed: 0 })
    expect(await get(id)).toBeUndefined()

    await withConnection(async (conn) => {
      await conn.beginTransaction()
      await repo.save(id, 'draft', conn)
      await repo.save(id, 'issued', conn)
      await conn.commit()
    })
    expect(await worker.drainAll()).toMatchObject({ claimed: 2, applied: 2 })
    expect(await get(id)).toEqual({ version: 2, status: 'issued' })
  })

  it('records nothing when the write throws, in a transaction or not', async () => {
    const repo = new InvoiceRepository(pool, await freshOutbox())
    const id = uniqueName('throws')
    await expect(repo.save(id, 'x'.repeat(17))).rejects.toThrow('status too long')
    await withConnection(async (conn) => {
      await conn.beginTransaction()
      await expect(repo.save(id, 'x'.repeat(17), conn)).rejects.toThrow('status too long')
      await conn.commit()
    })
    expect((await repo.outbox.lag(pool)).pending).toBe(0)
  })

  it('outside a transaction enqueues right after the write; the engine down keeps the events and shows the lag', async () => {
    const repo = new InvoiceRepository(pool, await freshOutbox())
    const id = uniqueName('down')
    await repo.save(id, 'draft')
    await repo.save(id, 'paid')
    const down = createSearchClient({
      node: 'http://127.0.0.1:9',
      engine,
      retries: 0,
      requestTimeout: '2s',
    })
    try {
      await expect(repo.outbox.worker({ search: down, db: pool }).drainOnce()).rejects.toMatchObject({
        code: 'E_SEARCH_ENGINE',
        retriable: true,
      })
    } finally {
      await down.close()
    }
    const lag = await repo.outbox.lag(pool)
    expect(lag.pending).toBe(2)
    expect(lag.oldestAgeMs).toBeGreaterThanOrEqual(0)
    expect(await get(id)).toBeUndefined()

    expect(await repo.outbox.worker({ search, db: pool }).drainAll()).toMatchObject({
      claimed: 2,
      applied: 2,
    })
    expect(await get(id)).toEqual({ version: 2, status: 'paid' })
    expect((await repo.outbox.lag(pool)).pending).toBe(0)
  })

  it('two updates whose events arrive out of order: the newest wins, and a delete is not undone', async () => {
    const repo = new InvoiceRepository(pool, await freshOutbox())
    const worker = repo.outbox.worker({ search, db: pool })
    const id = uniqueName('order')
    await repo.save(id, 'draft') // v1
    // The first update (v2) commits its row, then stalls before its event is recorded; the
    // second (v3) commits and records its event first.
    const gate: { open?: () => void } = {}
    repo.hold = new Promise<void>((resolve) => {
      gate.open = resolve
    })
    const older = repo.save(id, 'issued')
    while ((await versionOfRow(id)) < 2) await new Promise((resolve) => setTimeout(resolve, 10))
    repo.hold = undefined
    const newer = await repo.save(id, 'paid')
    expect(newer.version).toBe(3)
    expect(await worker.drainAll()).toMatchObject({ applied: 2 }) // v1, v3
    gate.open?.()
    expect((await older).version).toBe(2)
    expect(await worker.drainAll()).toMatchObject({ claimed: 1, applied: 0, stale: 1 })
    expect(await get(id)).toEqual({ version: 3, status: 'paid' })

    // Delete (v4), then a late event of an older version of the same row: stays deleted.
    await withConnection(async (conn) => {
      await conn.beginTransaction()
      expect(await repo.remove(id, conn)).toMatchObject({ version: 4 })
      await conn.commit()
    })
    await repo.outbox.enqueue(pool, {
      op: 'upsert',
      index: invoices.name,
      id,
      version: 3,
      document: { ...basicInvoice(3), id, status: 'overdue' },
    })
    expect(await worker.drainAll()).toMatchObject({ claimed: 2, applied: 1, stale: 1 })
    expect(await get(id)).toBeUndefined()
    expect(await repo.remove(id)).toBeUndefined() // nothing deleted: no event
    expect((await repo.outbox.lag(pool)).pending).toBe(0)
  })

  it('indexOnWrite wraps a write function; an event that cannot be recorded after a committed write is handed back', async () => {
    const table = outboxName()
    const outbox = createOutbox({ table }) // table not created yet: the insert fails
    const setStatus = indexOnWrite(
      async (tx: SqlExecutor | undefined, id: string, status: string): Promise<Saved> =>
        inTransaction(tx, async (conn) => {
          await conn.query(
            `INSERT INTO ${rowsTable} (id, version, status) VALUES (?, 1, ?) ON DUPLICATE KEY UPDATE version = version + 1, status = VALUES(status)`,
            [id, status],
          )
          return { id, status, version: (await versionOf(conn, id)) ?? 0 }
        }),
      {
        outbox,
        db: pool,
        transaction: (tx) => tx,
        event: (saved) => ({
          op: 'upsert',
          index: invoices.name,
          id: saved.id,
          version: saved.version,
          document: { ...basicInvoice(4), id: saved.id, status: saved.status },
        }),
      },
    )
    const id = uniqueName('fn')
    const error = await setStatus(undefined, id, 'issued').then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(OutboxEnqueueError)
    expect(error).toMatchObject({ code: 'E_SEARCH_OUTBOX', retriable: true, index: invoices.name })
    expect((error as OutboxEnqueueError).events).toEqual([expect.objectContaining({ id, version: 1 })])
    expect(await versionOfRow(id)).toBe(1) // the write itself committed

    await outbox.ensureTable(pool)
    await outbox.enqueue(pool, (error as OutboxEnqueueError).events) // the caller's retry
    await withConnection(async (conn) => {
      await conn.beginTransaction()
      await setStatus(conn, id, 'paid')
      await conn.commit()
    })
    expect(await outbox.worker({ search, db: pool }).drainAll()).toMatchObject({ claimed: 2, applied: 2 })
    expect(await get(id)).toEqual({ version: 2, status: 'paid' })
  })
})

async function versionOfRow(id: string): Promise<number> {
  return (await versionOf(pool, id)) ?? 0
}
