import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  createOutbox,
  IndexOnWrite,
  indexOnWrite,
  OutboxEnqueueError,
  SearchError,
  type SqlExecutor,
} from '../../../src/index.js'
import { RecordingDb } from '../../helpers/recording-db.js'

const event = (saved: { id: string; version: number }) => ({
  op: 'upsert' as const,
  index: 'invoices',
  id: saved.id,
  version: saved.version,
  document: { id: saved.id },
})

const write = async (_tx: SqlExecutor | undefined, id: string, version: number) => ({ id, version })

describe('indexOnWrite routing', () => {
  it('records in the given transaction, else through db, and nothing when the write throws or maps to no event', async () => {
    const pool = new RecordingDb('pool')
    const tx = new RecordingDb('tx')
    const save = indexOnWrite(write, {
      outbox: createOutbox({ table: 'ob' }),
      db: pool,
      transaction: (conn) => conn,
      event: (saved) => (saved.version === 0 ? undefined : event(saved)),
    })
    await save(tx, 'a', 1)
    await save(undefined, 'b', 2)
    await save(undefined, 'c', 0)
    expect(tx.inserted()).toEqual([['upsert', 'a', 1]])
    expect(pool.inserted()).toEqual([['upsert', 'b', 2]])

    const failing = indexOnWrite(
      async (_tx: SqlExecutor | undefined) => {
        throw new Error('write failed')
      },
      { outbox: createOutbox(), db: pool, event: () => event({ id: 'x', version: 1 }) },
    )
    await expect(failing(tx)).rejects.toThrow('write failed')
    expect(pool.inserted()).toHaveLength(1)
    expect(tx.inserted()).toHaveLength(1)
  })

  it('hands the events back when they cannot be recorded after a committed write; a failure inside the transaction rejects as is', async () => {
    const pool = new RecordingDb('pool')
    pool.fail = new Error('connection lost')
    const save = indexOnWrite(write, { outbox: createOutbox(), db: pool, transaction: (conn) => conn, event })
    const error = await save(undefined, 'a', 3).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OutboxEnqueueError)
    expect(error).toMatchObject({ code: 'E_SEARCH_OUTBOX', retriable: true, index: 'invoices' })
    expect((error as OutboxEnqueueError).events).toEqual([event({ id: 'a', version: 3 })])
    expect((error as Error).cause).toMatchObject({ message: expect.stringContaining('connection lost') })

    const tx = new RecordingDb('tx')
    tx.fail = new Error('deadlock')
    const inTx = await save(tx, 'a', 3).catch((e: unknown) => e)
    expect(inTx).not.toBeInstanceOf(OutboxEnqueueError)
    expect(inTx).toMatchObject({ code: 'E_SEARCH_OUTBOX' })

    const noDb = indexOnWrite(write, { outbox: createOutbox(), event })
    await expect(noDb(undefined, 'a', 1)).rejects.toBeInstanceOf(OutboxEnqueueError)
  })

  it('rejects an event the worker could never apply, naming the problem', async () => {
    const pool = new RecordingDb('pool')
    const bad = (patch: Record<string, unknown>) =>
      indexOnWrite(write, {
        outbox: createOutbox(),
        db: pool,
        event: (saved) => ({ ...event(saved), ...patch }) as never,
      })
    await expect(bad({ version: 1.5 })(undefined, 'a', 1)).rejects.toMatchObject({
      code: 'E_SEARCH_INVALID_VALUE',
      message: expect.stringContaining('version'),
    })
    await expect(bad({ version: -1 })(undefined, 'a', 1)).rejects.toMatchObject({
      code: 'E_SEARCH_INVALID_VALUE',
    })
    await expect(bad({ id: '' })(undefined, 'a', 1)).rejects.toMatchObject({
      message: expect.stringContaining('id'),
    })
    await expect(bad({ op: 'merge' })(undefined, 'a', 1)).rejects.toMatchObject({
      message: expect.stringContaining('op'),
    })
    await expect(bad({ document: null })(undefined, 'a', 1)).rejects.toMatchObject({
      message: expect.stringContaining('document'),
    })
    expect(pool.statements).toEqual([])
  })

  it('finds the outbox and the pool on the instance: property name, symbol or function', async () => {
    const pool = new RecordingDb('pool')
    const key = Symbol('pool')
    const repo = {
      box: createOutbox(),
      [key]: pool,
      save: indexOnWrite(write, { outbox: 'box', db: key, event }),
      saveFn: indexOnWrite(write, { outbox: (self: { box: unknown }) => self.box as never, db: key, event }),
    }
    await repo.save(undefined, 'a', 1)
    await repo.saveFn(undefined, 'b', 2)
    expect(pool.inserted()).toEqual([
      ['upsert', 'a', 1],
      ['upsert', 'b', 2],
    ])
    const orphan = indexOnWrite(write, { outbox: 'missing', db: pool, event })
    await expect(orphan(undefined, 'a', 1)).rejects.toMatchObject({
      code: 'E_SEARCH_INVALID_OPTION',
      message: expect.stringContaining('outbox'),
    })
  })
})

describe('option validation', () => {
  it('rejects invalid options when the decorator or wrapper is created, naming the option', () => {
    const outbox = createOutbox()
    const codeOf = (f: () => unknown) => {
      try {
        f()
        return 'no error'
      } catch (error) {
        return error instanceof SearchError ? `${error.code} ${error.message.split(' ')[0]}` : String(error)
      }
    }
    expect(codeOf(() => indexOnWrite(write, { outbox } as never))).toBe('E_SEARCH_INVALID_OPTION event')
    expect(codeOf(() => indexOnWrite(write, { event } as never))).toBe('E_SEARCH_INVALID_OPTION outbox')
    expect(codeOf(() => indexOnWrite(write, { outbox, event, db: 42 } as never))).toBe(
      'E_SEARCH_INVALID_OPTION db',
    )
    expect(codeOf(() => indexOnWrite(write, { outbox, event, transaction: 'tx' } as never))).toBe(
      'E_SEARCH_INVALID_OPTION transaction',
    )
    expect(codeOf(() => IndexOnWrite({ outbox, event: 'x' } as never))).toBe('E_SEARCH_INVALID_OPTION event')
    expect(codeOf(() => indexOnWrite('write' as never, { outbox, event }))).toBe(
      'E_SEARCH_INVALID_OPTION write',
    )
  })
})

describe('@IndexOnWrite (TC39 standard decorators)', () => {
  it('records in the transaction argument, else through the pool property, nothing when the method throws', () => {
    const script = fileURLToPath(new URL('../../helpers/tc39-index-on-write.ts', import.meta.url))
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], {
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(JSON.parse(run.stdout)).toEqual({
      pool: [['upsert', 'a', 1]],
      tx: [['upsert', 'b', 2]],
      failed: 'negative',
    })
  }, 60_000) // a child process through tsx: seconds on a loaded machine
})
