/**
 * The search sink on both real engines: an index write-blocked for 30 s while rows change in
 * MariaDB (`index.blocks.write`, as an operator or a flood-stage disk watermark sets it) yields no
 * dead letter, and once unblocked the index equals the database, row for row and version for
 * version; a document the mapping refuses is a dead letter and does not hold the others back.
 */
import { createSearchClient, type EngineKind, type SearchClient } from '@ayala/search'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox, type OutboxRelay } from '../../../src/index.ts'
import { indexEffect, searchSink } from '../../../src/search.ts'
import { type DriverUnderTest, mariadbDriver } from '../../helpers/databases.ts'
import { waitFor } from '../../helpers/recording-sink.ts'

const urls = serviceUrls()
const ENGINES: Array<{ engine: EngineKind; node: string }> = [
  { engine: 'opensearch', node: urls.opensearch },
  { engine: 'elasticsearch', node: urls.elasticsearch },
]
const BLOCK_MS = 30_000

describe.each(ENGINES)('searchSink on $engine', ({ engine, node }) => {
  let db: DriverUnderTest
  let search: SearchClient
  let outbox: Outbox
  let relay: OutboxRelay
  const index = uniqueName('outbox-docs')
  const rows = uniqueName('docs').replace(/-/g, '_')

  beforeAll(async () => {
    db = mariadbDriver()
    search = createSearchClient({ node, engine })
    const raw = await search.raw()
    await raw.indices.create({
      index,
      settings: { number_of_replicas: 0 },
      mappings: {
        dynamic: 'strict',
        properties: { title: { type: 'text' }, version: { type: 'long' }, count: { type: 'integer' } },
      },
    })
    await db.exec(
      `CREATE TABLE ${rows} (id INT PRIMARY KEY, version INT NOT NULL, title VARCHAR(100) NOT NULL)`,
    )
    outbox = createOutbox({ table: uniqueName('outbox').replace(/-/g, '_') })
    await outbox.ensureTable(db.pool)
    relay = outbox.relay({
      db: db.pool,
      sinks: { search: searchSink({ search }) },
      pollInterval: 50,
      retryDelay: 200,
      maxRetryDelay: '2s',
      degradedAfter: '10s',
    })
    relay.start()
  })

  afterAll(async () => {
    await relay?.stop()
    const raw = await search.raw()
    await raw.indices.putSettings({ index, settings: { 'index.blocks.write': false } }).catch(() => undefined)
    await search.deleteIndex(index).catch(() => undefined)
    await search.close()
    await db.exec(`DROP TABLE IF EXISTS ${rows}`)
    await db.exec(`DROP TABLE IF EXISTS ${outbox.tableName}`)
    await db.close()
  })

  /** One write: the row and its index effect in one transaction; `version` rises with each write. */
  async function save(id: number, title: string): Promise<void> {
    await db.transaction(async (tx, exec) => {
      await exec(
        `INSERT INTO ${rows} (id, version, title) VALUES (?, 1, ?) ON DUPLICATE KEY UPDATE version = version + 1, title = VALUES(title)`,
        [id, title],
      )
      const [row] = (await exec(`SELECT version FROM ${rows} WHERE id = ?`, [id])) as Array<{
        version: number
      }>
      await outbox.enqueue(
        tx,
        indexEffect({
          op: 'upsert',
          index,
          id: String(id),
          version: Number(row?.version),
          document: { title, version: Number(row?.version) },
        }),
      )
    })
  }

  async function indexEqualsDatabase(): Promise<{ missing: number; stale: number; extra: number }> {
    const raw = await search.raw()
    await raw.indices.refresh({ index })
    const response = await raw.search<{ title: string; version: number }>({
      index,
      size: 1_000,
      version: true,
    })
    const docs = new Map(
      response.hits.hits.map((hit) => [hit._id, { version: hit._version, title: hit._source?.title }]),
    )
    const truth = await db.exec(`SELECT id, version, title FROM ${rows}`)
    let missing = 0
    let stale = 0
    for (const row of truth) {
      const doc = docs.get(String(row.id))
      if (doc === undefined) missing++
      else if (doc.version !== Number(row.version) || doc.title !== row.title) stale++
    }
    return { missing, stale, extra: docs.size - truth.length + missing }
  }

  it(`survives a ${BLOCK_MS / 1_000} s write block without a dead letter, then equals the database`, async () => {
    for (let id = 1; id <= 20; id++) await save(id, `first ${id}`)
    await waitFor(
      async () => (await outbox.lag(db.pool)).search === undefined,
      30_000,
      'first load delivered',
    )
    const raw = await search.raw()
    await raw.indices.putSettings({ index, settings: { 'index.blocks.write': true } })
    const blockedAt = Date.now()
    for (let id = 1; id <= 20; id++) await save(id, `second ${id}`)
    for (let id = 21; id <= 30; id++) await save(id, `new ${id}`)
    await waitFor(() => (relay.stats().search?.retried ?? 0) > 0, 20_000, 'retries during the block')
    while (Date.now() - blockedAt < BLOCK_MS) {
      expect((await outbox.deadLetters(db.pool)).length).toBe(0)
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    }
    const during = await relay.health()
    expect(during.sinks.search?.status).toBe('degraded')
    expect(during.sinks.search?.pending).toBe(30)
    await raw.indices.putSettings({ index, settings: { 'index.blocks.write': false } })
    const unblockedAt = Date.now()
    await waitFor(
      async () => (await outbox.lag(db.pool)).search === undefined,
      30_000,
      'drained after unblock',
    )
    const healMs = Date.now() - unblockedAt
    expect(await indexEqualsDatabase()).toEqual({ missing: 0, stale: 0, extra: 0 })
    expect((await outbox.deadLetters(db.pool)).length).toBe(0)
    expect((await relay.health()).status).toBe('up')
    console.log(
      `[search-sink ${engine}] ${BLOCK_MS / 1_000} s block: 30 effects held, ${relay.stats().search?.retried} retries, 0 dead letters, index equal ${healMs} ms after unblock`,
    )
  })

  it('dead-letters a document the mapping refuses, and delivers the rest', async () => {
    await db.transaction((tx) =>
      outbox.enqueue(tx, [
        indexEffect({
          op: 'upsert',
          index,
          id: 'bad',
          version: 1,
          document: { title: 'x', count: 'not a number' },
        }),
        indexEffect({ op: 'upsert', index, id: 'good', version: 1, document: { title: 'fine', count: 3 } }),
      ]),
    )
    await waitFor(async () => (await outbox.lag(db.pool)).search?.pending === 0, 30_000, 'settled')
    const dead = await outbox.deadLetters(db.pool, { sink: 'search' })
    expect(dead.map((d) => (d.payload as { id: string }).id)).toEqual(['bad'])
    expect(dead[0]?.lastError).toMatch(/400/)
    const raw = await search.raw()
    expect((await raw.get({ index, id: 'good' })).found).toBe(true)
  })
})
