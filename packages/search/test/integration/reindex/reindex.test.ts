/**
 * Zero-downtime reindex on both engines: writes keep flowing through the write alias while a
 * new version is built, and none is lost; a failure before the swap rolls back.
 */
import { uniqueName } from '@ayala/testkit'
import type { Client } from '@elastic/elasticsearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type SearchClient, SearchError, versionedIndex } from '../../../src/index.js'
import { clientFor, ENGINES } from '../../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../../helpers/invoices.js'

const COUNT = 3_000

describe.each(ENGINES)('versioned reindex on $engine', ({ engine }) => {
  let search: SearchClient
  let raw: Client
  const invoices = basicInvoices(uniqueName('reindex'))
  const managed = () => versionedIndex(search, invoices, { keep: 1 })

  beforeAll(async () => {
    search = clientFor(engine)
    raw = await search.raw()
    const vi = managed()
    expect(await vi.init()).toBe(1)
    const report = await search.bulk(
      invoices,
      Array.from({ length: COUNT }, (_, i) => basicInvoice(i)),
      { index: vi.writeAlias, concurrency: 2 },
    )
    expect(report.failed).toBe(0)
  })

  afterAll(async () => {
    const vi = managed()
    await search.deleteIndex((await vi.versions()).map((v) => vi.physical(v)))
    await search.close()
  })

  it('loses no write made during a reindex and swaps aliases atomically', async () => {
    const vi = managed()
    const expected = new Map<string, string>()
    let writes = 0
    const write = async (id: string, status: string) => {
      const base = basicInvoice(Number(id.slice(4)) % COUNT)
      await raw.index({ index: vi.writeAlias, id, document: { ...base, id, status } })
      expected.set(id, status)
      writes++
    }
    // Deterministic writes at each phase (updates of old documents and brand-new ones)...
    const atPhase = async (phase: string) => {
      for (let k = 0; k < 5; k++) {
        await write(`inv-${String((writes * 37) % COUNT).padStart(6, '0')}`, `${phase}-${k}`)
        await write(`inv-${String(COUNT + writes).padStart(6, '0')}`, `${phase}-new-${k}`)
      }
    }
    // ...plus a free-running writer for the whole reindex.
    let running = true
    const background = (async () => {
      while (running) await write(`inv-${String((writes * 101) % COUNT).padStart(6, '0')}`, `bg-${writes}`)
    })()
    let report: Awaited<ReturnType<typeof vi.reindex>>
    try {
      report = await vi.reindex({ onPhase: atPhase, beforeSwap: () => atPhase('before-swap') })
    } finally {
      running = false
      await background
    }
    await atPhase('after')
    expect(report.from).toBe(1)
    expect(report.to).toBe(2)
    expect(report.backfilled).toBeGreaterThan(0)
    expect(await vi.current()).toBe(2)

    await raw.indices.refresh({ index: vi.readAlias })
    const newIds = [...expected.keys()].filter((id) => Number(id.slice(4)) >= COUNT).length
    expect((await raw.count({ index: vi.readAlias })).count).toBe(COUNT + newIds)
    const ids = [...expected.keys()]
    const found = await raw.mget<{ status: string }>({ index: vi.readAlias, ids })
    const lost = found.docs.filter(
      (doc, i) => !('found' in doc && doc.found && doc._source?.status === expected.get(ids[i] as string)),
    )
    expect(lost).toEqual([])
    // Both aliases on v2 only; v1 kept for a manual rollback.
    const aliases = await raw.indices.getAlias({ name: [vi.readAlias, vi.writeAlias] })
    expect(Object.keys(aliases)).toEqual([vi.physical(2)])
    expect(await vi.versions()).toEqual([1, 2])

    const second = await vi.reindex()
    expect(second).toMatchObject({ from: 2, to: 3, deleted: [vi.physical(1)] })
    expect(await vi.versions()).toEqual([2, 3])
  })

  it('rolls back to the live version on failure, keeping writes made meanwhile', async () => {
    const vi = managed()
    const live = await vi.current()
    const id = 'inv-999999'
    const error = await vi
      .reindex({
        beforeSwap: async () => {
          await raw.index({
            index: vi.writeAlias,
            id,
            document: { ...basicInvoice(1), id, status: 'during-failed' },
          })
          throw new Error('disk full')
        },
      })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SearchError)
    expect(error).toMatchObject({ code: 'E_SEARCH_REINDEX_FAILED' })
    expect(await vi.current()).toBe(live)
    expect(await vi.versions()).toEqual([(live as number) - 1, live])
    const aliases = await raw.indices.getAlias({ name: [vi.readAlias, vi.writeAlias] })
    expect(Object.keys(aliases)).toEqual([vi.physical(live as number)])
    await raw.indices.refresh({ index: vi.readAlias })
    const doc = await raw.get<{ status: string }>({ index: vi.readAlias, id })
    expect(doc._source?.status).toBe('during-failed')
  })

  it('rolls back without losing a write racing the rollback copy, nor overwriting one made after the switch', async () => {
    const vi = managed()
    const live = await vi.init()
    const versions = await vi.versions()
    const raced = basicInvoice(10)
    const later = basicInvoice(11)
    const created = { ...basicInvoice(12), id: 'inv-888888' }
    const write = (doc: { id: string }, status: string) =>
      raw.index({ index: vi.writeAlias, id: doc.id, document: { ...doc, status } })
    const error = await vi
      .reindex({
        beforeSwap: () => {
          throw new Error('disk full')
        },
        onPhase: async (phase) => {
          // The new version's documents are copied back; writes still land in the new version.
          if (phase === 'rollback-copied') {
            await write(raced, 'during-rollback-copy')
            await write(later, 'during-rollback-copy')
            await write(created, 'created-during-rollback-copy')
          }
          // Both aliases are back on the old version: this write is the newest of all.
          if (phase === 'rollback-switched') await write(later, 'after-switch')
        },
      })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'E_SEARCH_REINDEX_FAILED' })
    expect(await vi.current()).toBe(live)
    expect(await vi.versions()).toEqual(versions)
    await raw.indices.refresh({ index: vi.readAlias })
    const found = await raw.mget<{ status: string }>({
      index: vi.readAlias,
      ids: [raced.id, later.id, created.id],
    })
    expect(found.docs.map((doc) => ('_source' in doc ? doc._source?.status : 'missing'))).toEqual([
      'during-rollback-copy',
      'after-switch',
      'created-during-rollback-copy',
    ])
  })

  it('with external versions, neither a newer write nor a delete made during the backfill is undone', async () => {
    const external = basicInvoices(uniqueName('reindex-ext'))
    const vi = versionedIndex(search, external, { versioning: 'external', keep: 0 })
    await vi.init()
    try {
      await search.bulk(
        external,
        Array.from({ length: 500 }, (_, i) => basicInvoice(i)),
        { index: vi.writeAlias, versionOf: () => 1 },
      )
      const report = await vi.reindex({
        onPhase: async (phase) => {
          if (phase !== 'writes-moved') return
          const updated = { ...basicInvoice(3), status: 'updated-v5' }
          await raw.index({
            index: vi.writeAlias,
            id: updated.id,
            document: updated,
            version: 5,
            version_type: 'external',
          })
          await raw.delete(
            { index: vi.writeAlias, id: basicInvoice(4).id, version: 7, version_type: 'external' },
            { ignore: [404] },
          )
        },
      })
      expect(report).toMatchObject({ from: 1, to: 2, deleted: [vi.physical(1)] })
      await raw.indices.refresh({ index: vi.readAlias })
      const updated = await raw.get<{ status: string }>({ index: vi.readAlias, id: basicInvoice(3).id })
      expect(updated).toMatchObject({ _version: 5, _source: { status: 'updated-v5' } })
      const deleted = await raw.get({ index: vi.readAlias, id: basicInvoice(4).id }, { ignore: [404] })
      expect(deleted.found).toBe(false)
      expect((await raw.count({ index: vi.readAlias })).count).toBe(499)
      const kept = await raw.get({ index: vi.readAlias, id: basicInvoice(5).id })
      expect(kept._version).toBe(1)
    } finally {
      await search.deleteIndex((await vi.versions()).map((v) => vi.physical(v)))
    }
  })
})
