/**
 * The `ayala-outbox` command from the built package (`dist/cli.js`, the bin a user runs), on both
 * databases: it lists the backlog and the dead letters and replays them; a connection failure
 * prints the reason and never the URL's password.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox } from '../../src/index.ts'
import { DRIVERS, type DriverUnderTest } from '../helpers/databases.ts'
import { recordingSink } from '../helpers/recording-sink.ts'

const cli = join(import.meta.dirname, '..', '..', 'dist', 'cli.js')
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [cli, ...args], { timeout: 30_000, env: { ...process.env } })

const urlOf = (dialect: string) => (dialect === 'postgres' ? serviceUrls().postgres : serviceUrls().database)

describe.each(DRIVERS.filter((d) => d.name !== 'mysql2'))('ayala-outbox on $name', ({ open }) => {
  let db: DriverUnderTest
  let outbox: Outbox

  beforeAll(async () => {
    db = open()
    outbox = createOutbox({ table: uniqueName('outbox').replace(/-/g, '_'), dialect: db.dialect })
    await outbox.ensureTable(db.pool)
    await db.transaction((tx) =>
      outbox.enqueue(tx, [
        { sink: 'search', payload: { n: 1 } },
        { sink: 'search', payload: { n: 2 } },
        { sink: 'kafka', payload: { n: 3 } },
      ]),
    )
    const sink = recordingSink()
    sink.outcome = (item) =>
      (item.payload as { n: number }).n === 2
        ? { status: 'rejected', error: '400 mapper_parsing_exception' }
        : { status: 'done' }
    await outbox.relay({ db: db.pool, sinks: { search: sink } }).drainAll()
  })

  afterAll(async () => {
    await db.exec(`DROP TABLE IF EXISTS ${outbox.tableName}`)
    await db.close()
  })

  it('shows the lag and the dead letters, and replays them', async () => {
    const url = urlOf(db.dialect)
    const lag = JSON.parse((await run(['lag', '--url', url, '--table', outbox.tableName])).stdout)
    expect(lag).toMatchObject({ search: { pending: 0, dead: 1 }, kafka: { pending: 1, dead: 0 } })

    const dead = JSON.parse((await run(['dead-letters', '--url', url, '--table', outbox.tableName])).stdout)
    expect(dead).toHaveLength(1)
    expect(dead[0]).toMatchObject({
      sink: 'search',
      payload: { n: 2 },
      lastError: '400 mapper_parsing_exception',
    })

    const replayed = JSON.parse(
      (await run(['replay', '--url', url, '--table', outbox.tableName, '--seq', String(dead[0].seq)])).stdout,
    )
    expect(replayed).toEqual({ replayed: 1 })
    expect(await outbox.deadLetters(db.pool)).toHaveLength(0)
    expect((await outbox.lag(db.pool)).search).toMatchObject({ pending: 1, dead: 0 })
  })

  it('fails with the reason and without the password when the database is unreachable', async () => {
    const bad = new URL(urlOf(db.dialect))
    bad.port = '9'
    bad.username = 'someone'
    bad.password = 's3cr3t-do-not-print'
    const error = (await run(['lag', '--url', bad.toString()]).catch((e: unknown) => e)) as {
      code: number
      stderr: string
    }
    expect(error.code).toBe(1)
    expect(error.stderr).toMatch(/ayala-outbox: /)
    expect(error.stderr).not.toContain('s3cr3t-do-not-print')
  })
})
