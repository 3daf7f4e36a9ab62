/**
 * GET /search and GET /autocomplete on the real services (400 seeded invoices in a database,
 * index and topic of the test's own): totals and facets equal SQL's counts for the same words
 * and filters; a typo finds the accented word, ranked below an exact match; highlights mark the
 * words; cursors page through every hit once, in order, and refuse another search's cursor;
 * autocomplete reaches client names, line descriptions and invoice-number prefixes.
 */
import type { INestApplication } from '@nestjs/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../src/database/connection.ts'
import type { InvoiceView } from '../../src/invoices/invoice.ts'
import { type SearchAnswer, TYPO_THRESHOLD } from '../../src/search/search.controller.ts'
import { type SearchFilters, sqlSearchWhere } from '../../src/search/search-fallback.ts'
import { type ApiClient, apiClient, until } from '../helpers/api-client.ts'
import { provisionDataset } from '../helpers/dataset.ts'

const INVOICES = 400

describe('search on the real services', () => {
  let app: INestApplication | undefined
  let api: ApiClient
  let db: Database
  let dispose: (() => Promise<void>) | undefined

  beforeAll(async () => {
    let addresses: import('../../src/config.ts').ServiceAddresses
    ;({ addresses, db, dispose } = await provisionDataset('search', INVOICES))
    const { startApp } = await import('../../src/bootstrap.ts')
    const started = await startApp(addresses, { logger: false })
    app = started.app
    api = apiClient(started.url)
  })

  afterAll(async () => {
    await app?.close()
    await dispose?.()
  })

  const search = async (query: string) => {
    const answer = await api.get<SearchAnswer>(`/search?${query}`)
    expect(answer.status, query).toBe(200)
    return answer.body
  }

  /** SQL's counts for the words and filters: total, by status, by month, by amount range. */
  async function truth(words: string, filters: SearchFilters) {
    const rows = await db.prisma.invoice.findMany({
      where: sqlSearchWhere(words, filters),
      select: { status: true, issuedAt: true, totalCents: true },
    })
    const count = (key: (row: (typeof rows)[number]) => string) => {
      const out: Record<string, number> = {}
      for (const row of rows) out[key(row)] = (out[key(row)] ?? 0) + 1
      return out
    }
    const bounds = [0, 10_000, 50_000, 100_000, 500_000, Number.POSITIVE_INFINITY]
    return {
      total: rows.length,
      status: count((row) => row.status),
      month: count((row) => row.issuedAt.toISOString().slice(0, 7)),
      amount: bounds
        .slice(0, -1)
        .map(
          (from, i) =>
            rows.filter((row) => row.totalCents >= from && row.totalCents < (bounds[i + 1] as number)).length,
        ),
    }
  }

  it('counts and facets equal SQL for words and every filter', async () => {
    const cases: Array<[string, SearchFilters]> = [
      ['climatizacion', {}],
      ['consultoria tributaria', { status: 'paid' }],
      ['limpieza', { from: '2025-06-01', to: '2026-03-31' }],
      ['transporte', { minTotalCents: 20_000, maxTotalCents: 300_000 }],
      [
        (await db.prisma.client.findUniqueOrThrow({ where: { id: 3 } })).name.split(' ')[0] as string,
        { clientId: 3 },
      ],
    ]
    for (const [words, filters] of cases) {
      const query = new URLSearchParams({ q: words, limit: '5' })
      for (const [key, value] of Object.entries(filters)) query.set(key, String(value))
      const served = await search(query.toString())
      const expected = await truth(words, filters)
      expect(expected.total, words).toBeGreaterThan(0)
      expect(served.total, words).toBe(expected.total)
      expect(served.facets?.status, words).toEqual(expected.status)
      expect(served.facets?.month, words).toEqual(expected.month)
      expect(
        served.facets?.amount.map((bucket) => bucket.count),
        words,
      ).toEqual(expected.amount)
      expect(served.hits.length).toBe(Math.min(5, expected.total))
    }
    const ranges = (await search('q=climatizacion')).facets?.amount
    expect(ranges?.[0]).toEqual({ key: '<100', toCents: 10_000, count: expect.any(Number) })
    expect(ranges?.[4]).toMatchObject({ key: '>=5000', fromCents: 500_000 })
  })

  it('finds "climatización" from a typo, ranked below an exact match, with highlights', async () => {
    const typo = await search('q=climatisacion&limit=100')
    const accented = await truth('climatizacion', {})
    expect(typo.total).toBe(accented.total)
    expect(typo.hits[0]?.highlight?.description?.[0]).toMatch(/<em>climatización<\/em>/)

    const created = await api.post<InvoiceView>('/invoices', {
      clientId: 2,
      issuedAt: '2026-12-02',
      dueAt: '2027-01-01',
      currency: 'EUR',
      description: 'Revisión de climatisacion mal escrita',
      lines: [{ description: 'Mano de obra', quantity: 1, unitPriceCents: 5_000, taxRateBp: 2100 }],
    })
    expect(created.status).toBe(201)
    const ranked = await until(
      () => search('q=climatisacion&limit=100'),
      (answer) => answer.total === accented.total + 1,
      60_000,
    )
    expect(ranked.hits[0]?.id).toBe(created.body.id)
    expect((ranked.hits[0]?.score ?? 0) > (ranked.hits[1]?.score ?? 0)).toBe(true)
  }, 90_000)

  it('answers words spelled right from the exact query; typos are tolerated when the words find fewer than 20', async () => {
    // A typo of "climatizacion" one letter away: the fuzzy clause matches it.
    const created = await api.post<InvoiceView>('/invoices', {
      clientId: 3,
      issuedAt: '2026-12-03',
      dueAt: '2027-01-02',
      currency: 'EUR',
      description: 'Mantenimiento de climatizasion',
      lines: [{ description: 'Revisión', quantity: 1, unitPriceCents: 7_000, taxRateBp: 2100 }],
    })
    expect(created.status).toBe(201)
    // The typo itself: 1 exact hit (fewer than 20), so the typo-tolerant query, exact match first.
    const typo = await until(
      () => search('q=climatizasion&limit=100'),
      (answer) => answer.hits[0]?.id === created.body.id,
      60_000,
    )
    const accented = await truth('climatizacion', {})
    expect(accented.total).toBeGreaterThanOrEqual(TYPO_THRESHOLD)
    expect(typo.total).toBeGreaterThan(accented.total)
    // The word spelled right finds 20 or more exactly: the exact query alone, which SQL agrees with
    // (the typo-tolerant query would add the invoice above, and any other typo of the word).
    const exact = await search('q=climatizacion&limit=100')
    expect(exact.total).toBe(accented.total)
    expect(exact.facets?.status).toEqual(accented.status)
    expect(exact.hits.map((hit) => hit.id)).not.toContain(created.body.id)
    // Its cursor pages the same exact hits.
    const paged: number[] = []
    let cursor: string | null | undefined
    for (let page = 0; page < 100; page++) {
      const answer: SearchAnswer = await search(`q=climatizacion&limit=7${cursor ? `&cursor=${cursor}` : ''}`)
      expect(answer.total).toBe(accented.total)
      paged.push(...answer.hits.map((hit) => hit.id))
      cursor = answer.nextCursor
      if (!cursor) break
    }
    expect(paged).toHaveLength(accented.total)
    expect(new Set(paged).size).toBe(accented.total)
    expect(paged).not.toContain(created.body.id)
  }, 90_000)

  it('pages every hit once, in order, through the cursors; refuses foreign and edited cursors', async () => {
    const whole = await search('q=mantenimiento&limit=100')
    expect(whole.total).toBeGreaterThan(20)
    expect(whole.total).toBeLessThanOrEqual(100)
    const paged: number[] = []
    let cursor: string | null | undefined
    for (let page = 0; page < 50; page++) {
      const answer: SearchAnswer = await search(`q=mantenimiento&limit=9${cursor ? `&cursor=${cursor}` : ''}`)
      expect(answer.total).toBe(whole.total)
      paged.push(...answer.hits.map((hit) => hit.id))
      cursor = answer.nextCursor
      if (cursor === null) break
    }
    expect(cursor).toBeNull()
    expect(paged).toEqual(whole.hits.map((hit) => hit.id))

    const first = await search('q=mantenimiento&limit=3')
    const foreign = await api.get<{ parameter: string }>(`/search?q=limpieza&cursor=${first.nextCursor}`)
    expect(foreign).toMatchObject({ status: 400, body: { parameter: 'cursor' } })
    const edited = await api.get<{ parameter: string }>(
      `/search?q=mantenimiento&cursor=${first.nextCursor?.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))}`,
    )
    expect(edited).toMatchObject({ status: 400, body: { parameter: 'cursor' } })
    for (const [query, parameter] of [
      ['q=x&minTotalCents=500&maxTotalCents=100', 'minTotalCents'],
      ['q=x&from=2026-02-01&to=2026-01-01', 'from'],
      ['q=x&limit=0', 'limit'],
      ['q=x&clientId=abc', 'clientId'],
      ['q=x&from=2026-02-30', 'from'],
      ['q=x&minTotalCents=-1', 'minTotalCents'],
    ]) {
      expect(await api.get(`/search?${query}`), query).toMatchObject({ status: 400, body: { parameter } })
    }
  })

  it('autocompletes client names, line descriptions and invoice-number prefixes', async () => {
    const client = await db.prisma.client.findFirstOrThrow({ where: { id: 4 } })
    const prefix = client.name.split(' ')[0]?.slice(0, 5) as string
    const byName = (await api.get<SearchAnswer>(`/autocomplete?q=${encodeURIComponent(prefix)}&size=20`)).body
    expect(byName.hits.length).toBeGreaterThan(0)
    expect(byName.hits.some((hit) => hit.clientName === client.name)).toBe(true)

    const byLine = (await api.get<SearchAnswer>('/autocomplete?q=recarga%20de%20gas%20refri&size=20')).body
    expect(byLine.hits.length).toBeGreaterThan(0)
    const lineOwners = new Set(
      (
        await db.prisma.invoiceLine.findMany({
          where: { description: { contains: 'Recarga de gas refrigerante' } },
          select: { invoiceId: true },
        })
      ).map((row) => row.invoiceId),
    )
    expect(byLine.hits.every((hit) => lineOwners.has(hit.id))).toBe(true)

    const numbers = (await api.get<SearchAnswer>('/autocomplete?q=FAC-2026-0001&size=50')).body
    expect(numbers.hits.length).toBeGreaterThan(0)
    expect(numbers.hits.every((hit) => hit.number.startsWith('FAC-2026-0001'))).toBe(true)
  })
})
