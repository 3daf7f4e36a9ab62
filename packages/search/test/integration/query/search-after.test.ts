/**
 * `searchAfter` on both engines: a relevance-ranked search with highlights and aggregations,
 * paged by the last hit's sort values, returns every matching document exactly once, in the order
 * of one big page, with the same aggregations and total on every page.
 */
import { uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SearchClient } from '../../../src/index.js'
import { clientFor, ENGINES, loadDocs } from '../../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../../helpers/invoices.js'

const COUNT = 120

describe.each(ENGINES)('searchAfter on $engine', ({ engine }) => {
  let search: SearchClient
  const definition = basicInvoices(uniqueName('search-after'))

  beforeAll(async () => {
    search = clientFor(engine)
    await search.createIndex(definition)
    await loadDocs(
      await search.raw(),
      definition.name,
      Array.from({ length: COUNT }, (_, i) => basicInvoice(i + 1)),
    )
  })

  afterAll(async () => {
    await search.deleteIndex(definition.name).catch(() => undefined)
    await search.close()
  })

  const request = () => ({
    query: definition.q.multiMatch({ description: 2, clientName: 1 }, 'mantenimiento servicio', {
      operator: 'or' as const,
    }),
    sort: ['_score' as const],
    highlight: ['description' as const],
    aggs: { byStatus: { terms: { field: 'status' as const } } },
    trackTotalHits: true,
  })

  it('pages a ranked search with highlights and aggregations, every hit once and in order', async () => {
    const whole = await search.search(definition, { ...request(), size: COUNT })
    expect(whole.hits.length).toBeGreaterThan(20)
    const paged: string[] = []
    let after: Array<string | number | boolean | null> | undefined
    for (let page = 0; page < 100; page++) {
      const result = await search.search(definition, { ...request(), size: 7, searchAfter: after })
      expect(result.aggregations.byStatus.buckets).toEqual(whole.aggregations.byStatus.buckets)
      expect(result.total).toEqual(whole.total)
      expect(result.hits.every((hit) => hit.highlight?.description !== undefined)).toBe(true)
      paged.push(...result.hits.map((hit) => hit.id))
      if (result.hits.length < 7) break
      after = result.hits.at(-1)?.sort as typeof after
    }
    expect(paged).toEqual(whole.hits.map((hit) => hit.id))
    expect(new Set(paged).size).toBe(paged.length)
  })
})
