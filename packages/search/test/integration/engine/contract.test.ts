/**
 * Engine contract: everything both engines support, run against the real Elasticsearch 9.5 and
 * OpenSearch 2.19 nodes of the harness. One 12,000-document load per engine.
 */
import { uniqueName } from '@ayala/testkit'
import type { Client } from '@elastic/elasticsearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSearchClient,
  type SearchClient,
  SearchError,
  type SlowQueryEvent,
} from '../../../src/index.js'
import { clientFor, ENGINES, loadDocs, openContexts } from '../../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../../helpers/invoices.js'

const COUNT = 12_000

describe.each(ENGINES)('engine contract on $engine', ({ engine, node }) => {
  const invoices = basicInvoices(uniqueName('contract'))
  let search: SearchClient
  let raw: Client

  beforeAll(async () => {
    search = clientFor(engine)
    raw = await search.raw()
    await search.createIndex(invoices)
    await loadDocs(
      raw,
      invoices.name,
      Array.from({ length: COUNT }, (_, i) => basicInvoice(i)),
    )
  })

  afterAll(async () => {
    await search.deleteIndex(invoices.name)
    await search.close()
  })

  it('detects the engine with engine: auto', async () => {
    const auto = createSearchClient({ node })
    try {
      expect(await auto.engine()).toBe(engine)
      const result = await auto.search(invoices, { size: 1, trackTotalHits: true })
      expect(result.total).toEqual({ value: COUNT, relation: 'eq' })
    } finally {
      await auto.close()
    }
  })

  it('searches with boosts, filters, sort and highlighting', async () => {
    const { q } = invoices
    const result = await search.search(invoices, {
      query: q.multiMatch({ description: 1, clientName: 3 }, 'consultoría'),
      filter: [
        q.term('status', 'PAID'),
        q.range('issuedAt', { gte: '2026-02-01', lt: '2026-03-01' }),
        q.range('totalCents', { gte: 5_000 }),
        q.terms('clientId', ['c1', 'c2', 'c3']),
      ],
      highlight: ['description'],
      size: 5,
      trackTotalHits: true,
    })
    expect(result.total?.value).toBeGreaterThan(0)
    for (const hit of result.hits) {
      expect(hit.source.status).toBe('paid')
      expect(hit.source.totalCents).toBeGreaterThanOrEqual(5_000)
      expect(hit.source.issuedAt >= '2026-02-01' && hit.source.issuedAt < '2026-03-01').toBe(true)
      expect(['c1', 'c2', 'c3']).toContain(hit.source.clientId)
      expect(hit.highlight?.description?.join(' ')).toContain('<em>')
    }
    const sorted = await search.search(invoices, { sort: [{ field: 'totalCents', order: 'desc' }], size: 20 })
    const totals = sorted.hits.map((hit) => hit.source.totalCents)
    expect(totals).toEqual([...totals].sort((a, b) => b - a))
  })

  it('returns typed aggregations inferred from the request', async () => {
    const result = await search.search(invoices, {
      size: 0,
      aggs: {
        byStatus: {
          terms: { field: 'status', size: 10 },
          aggs: { amount: { sum: { field: 'totalCents' } } },
        },
        clients: { cardinality: { field: 'clientId' } },
        perMonth: { date_histogram: { field: 'issuedAt', calendar_interval: 'month' } },
        paidOnly: { filter: invoices.q.term('paid', true), aggs: { avg: { avg: { field: 'totalCents' } } } },
      },
    })
    const byStatus = result.aggregations.byStatus.buckets
    expect(byStatus.map((b) => b.key).sort()).toEqual(['draft', 'issued', 'overdue', 'paid'])
    expect(byStatus.reduce((sum, b) => sum + b.doc_count, 0)).toBe(COUNT)
    const expectedPaid = Array.from({ length: COUNT }, (_, i) => basicInvoice(i))
      .filter((doc) => doc.status === 'paid')
      .reduce((sum, doc) => sum + doc.totalCents, 0)
    expect(byStatus.find((b) => b.key === 'paid')?.amount.value).toBe(expectedPaid)
    expect(result.aggregations.clients.value).toBe(5)
    expect(result.aggregations.perMonth.buckets.length).toBe(12)
    expect(result.aggregations.paidOnly.doc_count).toBe(COUNT / 4)
    expect(result.aggregations.paidOnly.avg.value).toBeGreaterThan(0)
  })

  it('honours trackTotalHits', async () => {
    const capped = await search.search(invoices, { size: 0 })
    expect(capped.total).toEqual({ value: 10_000, relation: 'gte' })
    const exact = await search.search(invoices, { size: 0, trackTotalHits: true })
    expect(exact.total).toEqual({ value: COUNT, relation: 'eq' })
    const none = await search.search(invoices, { size: 0, trackTotalHits: false })
    expect(none.total).toBeUndefined()
  })

  it('pages through more than 10,000 documents with cursors: no duplicates, no gaps', async () => {
    const seen = new Set<string>()
    let cursor: string | undefined
    let pages = 0
    do {
      const page = await search.searchPage(invoices, {
        size: 1_000,
        sort: ['issuedAt'],
        ...(cursor ? { cursor } : {}),
      })
      for (const hit of page.hits) {
        expect(seen.has(hit.id)).toBe(false)
        seen.add(hit.id)
      }
      cursor = page.nextCursor ?? undefined
      pages++
    } while (cursor)
    expect(seen.size).toBe(COUNT)
    expect(pages).toBe(13)
  })

  it('scans every document in order and closes the PIT on completion and on break', async () => {
    const before = await openContexts(raw)
    let previous = ''
    let count = 0
    for await (const hit of search.scan(invoices, { size: 2_500 })) {
      expect(hit.id > previous).toBe(true)
      previous = hit.id
      count++
    }
    expect(count).toBe(COUNT)
    expect(await openContexts(raw)).toBe(before)

    let taken = 0
    for await (const _hit of search.scan(invoices, {
      size: 100,
      filter: invoices.q.term('status', 'draft'),
    })) {
      taken++
      if (taken === 1) expect(await openContexts(raw)).toBe(before + 1)
      if (taken === 150) break
    }
    expect(taken).toBe(150)
    expect(await openContexts(raw)).toBe(before)
  })

  it('closes the PIT when a page fails', async () => {
    const before = await openContexts(raw)
    const iterator = search.scan(invoices, {
      size: 10,
      // A script-free query the engine rejects at search time: a regexp over a date field.
      query: { regexp: { issuedAt: 'x.*' } },
    })
    await expect(iterator.next()).rejects.toMatchObject({ code: 'E_SEARCH_ENGINE', status: 400 })
    expect(await openContexts(raw)).toBe(before)
  })

  it('rejects a malformed cursor with a typed error before any request', async () => {
    for (const cursor of ['not base64!', Buffer.from('{"v":9}').toString('base64url'), 'eyJ2IjoxfQ']) {
      await expect(search.searchPage(invoices, { cursor })).rejects.toMatchObject({
        code: 'E_SEARCH_INVALID_CURSOR',
      })
    }
  })

  it('rejects a cursor reused with another sort, then continues it with the right one', async () => {
    const first = await search.searchPage(invoices, { size: 10_000, sort: ['issuedAt'] })
    const cursor = first.nextCursor as string
    expect(cursor).toEqual(expect.any(String))
    await expect(
      search.searchPage(invoices, { size: 10_000, sort: ['totalCents'], cursor }),
    ).rejects.toMatchObject({
      code: 'E_SEARCH_INVALID_CURSOR',
    })
    const second = await search.searchPage(invoices, { size: 10_000, sort: ['issuedAt'], cursor })
    expect(first.hits.length + second.hits.length).toBe(COUNT)
    expect(second.nextCursor).toBeNull()
  })

  it('emits slow-query events with a value-free fingerprint', async () => {
    const slow = createSearchClient({ node, engine, slowQueryThreshold: 0 })
    const events: SlowQueryEvent[] = []
    slow.on('slow-query', (event) => events.push(event))
    try {
      await slow.search(invoices, { query: invoices.q.match('description', 'servicio') })
      await slow.search(invoices, { query: invoices.q.match('description', 'licencia') })
      expect(events).toHaveLength(2)
      expect(events[0]?.fingerprint).toBe(events[1]?.fingerprint)
      expect(slow.latency().count).toBe(2)
      const health = await slow.health()
      expect(health).toMatchObject({ ok: true, engine })
    } finally {
      await slow.close()
    }
  })

  it('reports an unreachable engine in health() and as a retriable typed error', async () => {
    const down = createSearchClient({
      node: 'http://127.0.0.1:9',
      engine,
      retries: 0,
      requestTimeout: '2s',
    })
    try {
      const health = await down.health()
      expect(health.ok).toBe(false)
      expect(health.status).toBe('unreachable')
      const error = await down.search(invoices).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(SearchError)
      // An interactive read that cannot reach the engine is E_SEARCH_UNAVAILABLE (bounded-reads.test.ts).
      expect(error).toMatchObject({ code: 'E_SEARCH_UNAVAILABLE', retriable: true, reason: 'connection' })
      expect(health.breaker).toBe('closed')
    } finally {
      await down.close()
    }
  })
})
