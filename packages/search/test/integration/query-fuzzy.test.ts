/**
 * The fuzzy expansion options of `match` / `multiMatch` on both engines: `prefixLength` keeps the
 * first letters exact, `maxExpansions` caps the spellings a word expands to. Documents whose
 * descriptions differ by one letter: every count is the one the fixture implies.
 */
import { uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EngineKind } from '../../src/index.js'
import { clientFor, ENGINES, loadDocs } from '../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../helpers/invoices.js'

/** Four words one letter from `caza`, each in 5 documents. */
const WORDS = ['casa', 'cama', 'capa', 'cara']

describe.each(ENGINES)('fuzzy expansion options ($engine)', ({ engine }) => {
  const invoices = basicInvoices(uniqueName('fuzzy'))
  const search = clientFor(engine as EngineKind)
  const { q } = invoices

  beforeAll(async () => {
    await search.createIndex(invoices)
    const docs = Array.from({ length: 20 }, (_, i) => ({
      ...basicInvoice(i),
      description: `${WORDS[i % WORDS.length]} numero ${i}`,
    }))
    await loadDocs(await search.raw(), invoices.name, docs)
  })

  afterAll(async () => {
    await search.deleteIndex(invoices.name)
    await search.close()
  })

  const total = async (query: ReturnType<typeof q.match>) =>
    (await search.search(invoices, { query, size: 0, trackTotalHits: true })).total?.value

  it('prefixLength keeps the first letters exact; maxExpansions caps the spellings', async () => {
    // "caza": one letter from each of the four words.
    expect(await total(q.match('description', 'caza', { fuzziness: 1 }))).toBe(20)
    // "jasa": one letter from "casa" only, in its first letter.
    expect(await total(q.match('description', 'jasa', { fuzziness: 1 }))).toBe(5)
    expect(await total(q.match('description', 'jasa', { fuzziness: 1, prefixLength: 1 }))).toBe(0)
    expect(await total(q.match('description', 'caza', { fuzziness: 1, prefixLength: 2 }))).toBe(20)
    expect(await total(q.match('description', 'caza', { fuzziness: 1, prefixLength: 3 }))).toBe(0)
    // One expansion: one of the four words (5 documents), not all four.
    expect(await total(q.match('description', 'caza', { fuzziness: 1, maxExpansions: 1 }))).toBe(5)
    expect(await total(q.match('description', 'caza', { fuzziness: 1, maxExpansions: 2 }))).toBe(10)
    expect(
      await total(
        q.multiMatch(['description', 'clientName'], 'jasa', { fuzziness: 'AUTO', prefixLength: 1 }),
      ),
    ).toBe(0)
  })
})
