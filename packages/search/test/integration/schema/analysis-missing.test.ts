/**
 * The Spanish preset on an Elasticsearch node without analysis-common: the harness's
 * Elasticsearch 9 is built from Maven Central's server jars, which carry neither analysis-common
 * nor mapper-extras (every official distribution ships both), so the engine refuses the index
 * for real with `Unknown filter type [asciifolding]`. The client must turn that into an
 * `AnalysisMissingError` naming every field that needs the module and the declaration to use
 * instead, on both paths that send a definition's analysis (createIndex and ensureIndex's
 * template), and the advice must work: applied, the next refusal names mapper-extras, and
 * applied again, the index is created on the same node and a full-text search finds a document.
 */
import { uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AnalysisMissingError,
  defineIndex,
  ensureIndex,
  field,
  indexTemplateName,
  type SearchClient,
} from '../../../src/index.js'
import { clientFor, loadDocs } from '../../helpers/engines.js'
import { spanishInvoices } from '../../helpers/invoices.js'

describe('an Elasticsearch node without analysis-common (the harness node)', () => {
  let search: SearchClient
  const made: string[] = []
  const name = () => {
    const index = uniqueName('es-analysis')
    made.push(index)
    return index
  }

  beforeAll(() => {
    search = clientFor('elasticsearch')
  })

  afterAll(async () => {
    await search.deleteIndex(made)
    const raw = await search.raw()
    for (const index of made)
      await raw.indices.deleteIndexTemplate({ name: indexTemplateName(index) }, { ignore: [404] })
    await search.close()
  })

  it('the Spanish preset: AnalysisMissingError naming each field and its declaration without the module; no index', async () => {
    const index = name()
    const failure = await search.createIndex(spanishInvoices(index)).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(AnalysisMissingError)
    const error = failure as AnalysisMissingError
    expect(error.code).toBe('E_SEARCH_ANALYSIS_MISSING')
    expect(error.retriable).toBe(false)
    expect(error.status).toBe(400)
    expect(error.index).toBe(index)
    expect(error.module).toBe('analysis-common')
    expect(error.component).toBe('filter asciifolding')
    // The engine's own words, from the real answer.
    expect(JSON.stringify((error.cause as { body?: unknown }).body)).toContain(
      'Unknown filter type [asciifolding]',
    )
    expect(error.fields).toEqual([
      {
        field: 'number',
        declared: 'field.identifier() (prefix subfield)',
        instead: 'field.keyword() (exact values, no prefix search)',
      },
      {
        field: 'taxId',
        declared: 'field.identifier() (prefix subfield)',
        instead: 'field.keyword() (exact values, no prefix search)',
      },
      {
        field: 'description',
        declared: "field.text() (the Spanish preset, analyzer: 'spanish')",
        instead: "field.text({ analyzer: 'standard' })",
      },
      {
        field: 'clientName',
        declared: "field.text() (the Spanish preset, analyzer: 'spanish')",
        instead: "field.text({ analyzer: 'standard' })",
      },
      {
        field: 'client',
        declared: "field.keyword({ normalizer: 'folded' })",
        instead: "field.keyword({ normalizer: 'lowercase' })",
      },
      {
        field: 'status',
        declared: "field.keyword({ normalizer: 'folded' })",
        instead: "field.keyword({ normalizer: 'lowercase' })",
      },
      {
        field: 'suggest',
        declared: "field.autocomplete({ strategy: 'search_as_you_type' })",
        instead: undefined,
      },
    ])
    expect(error.message).toContain(
      `Index ${index} cannot be created: This Elasticsearch node has no filter asciifolding`,
    )
    expect(error.message).toContain('comes from the analysis-common module')
    expect(error.message).toContain(
      "description: field.text() (the Spanish preset, analyzer: 'spanish') -> field.text({ analyzer: 'standard' })",
    )
    expect(error.message).toContain('suggest: field.autocomplete')
    const raw = await search.raw()
    expect(await raw.indices.exists({ index })).toBe(false)
  })

  it("ensureIndex's template path says the same (the engine checks the template's analysis)", async () => {
    const index = name()
    const failure = await ensureIndex(search, spanishInvoices(index)).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(AnalysisMissingError)
    expect((failure as AnalysisMissingError).module).toBe('analysis-common')
    expect((failure as AnalysisMissingError).fields.map((f) => f.field)).toContain('description')
  })

  it('the advice works: applied, mapper-extras is named next; applied again, the index is created and searched', async () => {
    const index = name()
    // Every analysis-common declaration replaced as the error said; the autocomplete left out.
    const withoutCommon = defineIndex({
      name: index,
      id: 'id',
      fields: {
        id: field.keyword(),
        number: field.keyword(),
        description: field.text({ analyzer: 'standard' }),
        client: field.keyword({ normalizer: 'lowercase' }),
        total: field.money({ storage: 'scaled-float' }),
      },
    })
    const next = await search.createIndex(withoutCommon).catch((e: unknown) => e)
    expect(next).toBeInstanceOf(AnalysisMissingError)
    expect((next as AnalysisMissingError).module).toBe('mapper-extras')
    expect((next as AnalysisMissingError).component).toBe('field type scaled_float')
    expect((next as AnalysisMissingError).fields).toEqual([
      {
        field: 'total',
        declared: "field.money({ storage: 'scaled-float' })",
        instead: 'field.money() (integer minor units in a long)',
      },
    ])

    const plain = defineIndex({
      name: index,
      id: 'id',
      fields: { ...withoutCommon.fields, total: field.money() },
    })
    await search.createIndex(plain)
    await loadDocs(await search.raw(), index, [
      {
        id: '1',
        number: 'FAC-1',
        description: 'Reparación de equipos',
        client: 'pequeño comercio',
        total: 123_456,
      },
      { id: '2', number: 'FAC-2', description: 'Licencias de software', client: 'núñez', total: 9_990 },
    ])
    const found = await search.search(plain, { query: plain.q.match('description', 'software') })
    expect(found.hits.map((h) => h.id)).toEqual(['2'])
  })
})
