/**
 * What user text means, on both engines (the `climatizacion OR ascensor` case of issue 14): plain
 * text by default (operators are words: every word, "or" included, must match), the opt-in simple
 * syntax (OR, -, NOT, quotes), and `escapeQueryText` making `query_string` literal. Every count is
 * compared with the truth computed from the fixture itself.
 */
import { uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineIndex, escapeQueryText, field, type Query, type SearchClient } from '../../../src/index.js'
import { clientFor, ENGINES, loadDocs } from '../../helpers/engines.js'

/** 30 with climatizacion only, 20 with ascensor only, 5 with both, 10 with neither. */
function fixture() {
  const docs: Array<{ id: string; description: string }> = []
  const add = (n: number, text: (i: number) => string) => {
    for (let i = 0; i < n; i++) docs.push({ id: `d${docs.length}`, description: text(i) })
  }
  add(30, (i) => `revision de climatizacion planta ${i}`)
  add(20, (i) => `mantenimiento del ascensor portal ${i}`)
  add(5, (i) => `climatizacion y ascensor del edificio ${i}`)
  add(10, (i) => `limpieza general oficina ${i}`)
  return docs
}

const docs = fixture()
const has = (doc: { description: string }, word: string) => doc.description.split(' ').includes(word)
const truth = {
  either: docs.filter((d) => has(d, 'climatizacion') || has(d, 'ascensor')).length,
  both: docs.filter((d) => has(d, 'climatizacion') && has(d, 'ascensor')).length,
  climaNotAscensor: docs.filter((d) => has(d, 'climatizacion') && !has(d, 'ascensor')).length,
  phrase: docs.filter((d) => d.description.includes('del ascensor')).length,
}

describe.each(ENGINES)('user text on $engine', ({ engine }) => {
  const index = defineIndex({
    name: uniqueName('syntax'),
    id: 'id',
    fields: { id: field.keyword(), description: field.text({ analyzer: 'standard' }) },
  })
  let search: SearchClient

  beforeAll(async () => {
    search = clientFor(engine)
    await search.createIndex(index)
    await loadDocs(await search.raw(), index.name, docs)
  })
  afterAll(async () => {
    await search.deleteIndex(index.name)
    await search.close()
  })

  const count = async (query: Query) =>
    (await search.search(index, { query, size: 0, trackTotalHits: true })).total?.value

  it('plain (default): OR is a word, every word must match', async () => {
    expect(truth).toEqual({ either: 55, both: 5, climaNotAscensor: 30, phrase: 20 })
    expect(await count(index.q.match('description', 'climatizacion OR ascensor'))).toBe(0)
    expect(await count(index.q.match('description', 'climatizacion ascensor'))).toBe(truth.both)
    // `-` is punctuation: the words are required, nothing is excluded.
    expect(await count(index.q.match('description', 'climatizacion -ascensor'))).toBe(truth.both)
    expect(await count(index.q.multiMatch(['description'], 'climatizacion OR ascensor'))).toBe(0)
    // Any-word is an explicit choice.
    expect(await count(index.q.match('description', 'climatizacion ascensor', { operator: 'or' }))).toBe(
      truth.either,
    )
  })

  it('simple syntax (opt-in): OR, -, NOT and quotes are operators', async () => {
    const simple = { syntax: 'simple' } as const
    expect(await count(index.q.match('description', 'climatizacion OR ascensor', simple))).toBe(truth.either)
    expect(await count(index.q.multiMatch(['description'], 'climatizacion | ascensor', simple))).toBe(
      truth.either,
    )
    expect(await count(index.q.match('description', 'climatizacion -ascensor', simple))).toBe(
      truth.climaNotAscensor,
    )
    expect(await count(index.q.match('description', 'climatizacion NOT ascensor', simple))).toBe(
      truth.climaNotAscensor,
    )
    expect(await count(index.q.match('description', '"del ascensor"', simple))).toBe(truth.phrase)
    expect(await count(index.q.match('description', 'climatizacion ascensor', simple))).toBe(truth.both)
    expect(await count(index.q.match('description', 'climatizacion or ascensor', simple))).toBe(0)
    expect(await count(index.q.match('description', '-limpieza', simple))).toBe(docs.length - 10)
    expect(await count(index.q.match('description', '""', simple))).toBe(0)
  })

  it('escapeQueryText makes query_string literal: OR is a word again', async () => {
    const queryString = (text: string): Query => ({
      query_string: { query: text, fields: ['description'], default_operator: 'AND' },
    })
    // The defect of the old escaping: the operator word still worked.
    expect(await count(queryString('climatizacion OR ascensor'))).toBe(truth.either)
    expect(await count(queryString(escapeQueryText('climatizacion OR ascensor')))).toBe(0)
    expect(await count(queryString(escapeQueryText('climatizacion AND ascensor')))).toBe(0)
    expect(await count(queryString(escapeQueryText('climatizacion ascensor')))).toBe(truth.both)
    expect(await count(queryString(escapeQueryText('climatizacion -ascensor (x) "y" *')))).toBe(0)
    expect(await count(queryString(escapeQueryText('climatizacion -ascensor')))).toBe(truth.both)
  })
})
