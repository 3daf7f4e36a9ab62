/**
 * GET /search's two requests, counted against a recording stand-in for the engine (the real
 * engine's behaviour is search-api.test.ts's): words with 20 or more exact hits are one request;
 * fewer, a second, typo-tolerant one within what the first left of the search's 1 s budget; when
 * that second one fails, the exact answer in hand is served and says `typos: 'unchecked'`.
 */
import 'reflect-metadata'
import { SearchUnavailableError } from '@ayala/search'
import { describe, expect, it } from 'vitest'
import { invoiceIndex } from '../../src/invoices/invoice-index.ts'
import { SearchController, TYPO_THRESHOLD } from '../../src/search/search.controller.ts'

interface Sent {
  typoTolerant: boolean
  timeout: unknown
  fallback: boolean
}

function hit(id: number) {
  const source = {
    id: String(id),
    number: `FAC-${id}`,
    clientName: 'Cliente',
    description: 'climatización',
    status: 'paid',
    issuedAt: '2026-12-01',
    totalCents: 100,
  }
  return { id: String(id), source, score: 1, sort: [1, String(id)] }
}

function answer(total: number, size: number) {
  return {
    hits: Array.from({ length: Math.min(total, size) }, (_, i) => hit(i + 1)),
    total: { value: total, relation: 'eq' },
    aggregations: {
      status: { buckets: [{ key: 'paid', doc_count: total }] },
      month: { buckets: [{ key_as_string: '2026-12', doc_count: total }] },
      amount: { buckets: [{ key: '<100', to: 10_000, doc_count: total }] },
    },
  }
}

/** A controller whose engine answers `exactTotal` for the exact query and `typo` for the other. */
function controller(exactTotal: number, typo: () => Promise<unknown>) {
  const sent: Sent[] = []
  const repository = {
    q: invoiceIndex('stand-in').q,
    search: async (request: { query: { bool?: unknown }; timeout?: unknown; fallback?: unknown }) => {
      const typoTolerant = request.query.bool !== undefined
      sent.push({ typoTolerant, timeout: request.timeout, fallback: request.fallback !== undefined })
      return typoTolerant ? typo() : answer(exactTotal, 20)
    },
  }
  const search = (words: string) =>
    new SearchController(repository as never, {} as never).search(
      words,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      20,
    )
  return { sent, search }
}

describe('GET /search: the exact words first', () => {
  it('answers words with 20 or more exact hits in one request', async () => {
    const { sent, search } = controller(TYPO_THRESHOLD, async () => answer(99, 20))
    const served = await search('climatizacion')
    expect(sent).toEqual([{ typoTolerant: false, timeout: 1_000, fallback: true }])
    expect(served.total).toBe(TYPO_THRESHOLD)
    expect(served.typos).toBeUndefined()
  })

  it('adds the typo-tolerant request when they find fewer, within what the first left', async () => {
    const { sent, search } = controller(3, async () => answer(40, 20))
    const served = await search('climatisacion')
    expect(sent.map((s) => s.typoTolerant)).toEqual([false, true])
    expect(sent[1]?.timeout).toBeGreaterThan(0)
    expect(sent[1]?.timeout).toBeLessThanOrEqual(1_000)
    // The database is the first request's fallback only: the second has an answer in hand.
    expect(sent.map((s) => s.fallback)).toEqual([true, false])
    expect(served.total).toBe(40)
    expect(served.typos).toBeUndefined()
  })

  it('serves the exact answer, saying so, when the typo-tolerant request fails', async () => {
    const { sent, search } = controller(3, async () => {
      throw new SearchUnavailableError('engine past its budget', {
        index: 'stand-in',
        operation: 'search',
        budgetMs: 900,
        reason: 'timeout',
      })
    })
    const served = await search('climatisacion')
    expect(sent).toHaveLength(2)
    expect(served.total).toBe(3)
    expect(served.hits).toHaveLength(3)
    expect(served.typos).toBe('unchecked')
    expect(served.degraded).toBeUndefined()
    expect(served.facets?.status).toEqual({ paid: 3 })
  })

  it('does not swallow anything but the typed errors of the engine', async () => {
    const { search } = controller(3, async () => {
      throw new TypeError('a bug')
    })
    await expect(search('climatisacion')).rejects.toThrow(TypeError)
  })
})
