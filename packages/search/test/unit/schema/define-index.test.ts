import { describe, expect, it } from 'vitest'
import { defineIndex, field, SearchError } from '../../../src/index.js'
import { basicInvoices, spanishInvoices } from '../../helpers/invoices.js'

const codeOf = (run: () => unknown): string | undefined => {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(SearchError)
    return (error as SearchError).code
  }
  return undefined
}

describe('defineIndex', () => {
  it('emits no analysis for an index that needs no analysis module', () => {
    const def = basicInvoices('plain')
    expect(def.settings.analysis).toBeUndefined()
    expect(def.mappings.dynamic).toBe('strict')
    expect(def.mappings.properties?.status).toEqual({ type: 'keyword', normalizer: 'lowercase' })
    expect(def.mappings.properties?.totalCents).toEqual({ type: 'long' })
  })

  it('builds the Spanish preset chain in order', () => {
    const def = spanishInvoices('es')
    const analyzer = def.settings.analysis?.analyzer?.ayala_spanish as { filter: string[] }
    expect(analyzer.filter).toEqual([
      'lowercase',
      'ayala_folding',
      'ayala_spanish_stop',
      'ayala_spanish_keywords',
      'ayala_spanish_stemmer',
    ])
    expect(def.settings.analysis?.filter?.ayala_folding).toEqual({
      type: 'asciifolding',
      preserve_original: true,
    })
    expect(def.settings.analysis?.normalizer?.ayala_folded).toEqual({
      type: 'custom',
      filter: ['lowercase', 'asciifolding'],
    })
    expect(def.mappings.properties?.total).toEqual({ type: 'scaled_float', scaling_factor: 100 })
    expect(def.mappings.properties?.suggest).toMatchObject({ type: 'search_as_you_type' })
  })

  it('rejects a bad declaration', () => {
    expect(codeOf(() => defineIndex({ name: 'Bad', id: 'id', fields: { id: field.keyword() } }))).toBe(
      'E_SEARCH_INVALID_OPTION',
    )
    expect(
      codeOf(() => defineIndex({ name: 'x', id: 'text' as never, fields: { text: field.text() } })),
    ).toBe('E_SEARCH_INVALID_OPTION')
  })

  it('validates query helpers at run time', () => {
    const { q } = spanishInvoices('es')
    expect(codeOf(() => q.term('nope' as never, 'x' as never))).toBe('E_SEARCH_UNKNOWN_FIELD')
    expect(codeOf(() => q.term('description' as never, 'x' as never))).toBe('E_SEARCH_FIELD_KIND')
    expect(codeOf(() => q.match('status' as never, 'x'))).toBe('E_SEARCH_FIELD_KIND')
    expect(codeOf(() => q.range('total', { gte: '10' as never }))).toBe('E_SEARCH_INVALID_VALUE')
    expect(codeOf(() => q.term('paid', 'yes' as never))).toBe('E_SEARCH_INVALID_VALUE')
    expect(codeOf(() => q.range('total', {}))).toBe('E_SEARCH_INVALID_VALUE')
    expect(codeOf(() => q.match('description', 'x'.repeat(257)))).toBe('E_SEARCH_QUERY_TOO_LONG')
    expect(codeOf(() => q.multiMatch({ description: -1 }, 'x'))).toBe('E_SEARCH_INVALID_VALUE')
    expect(codeOf(() => q.exists('__proto__' as never))).toBe('E_SEARCH_UNKNOWN_FIELD')
  })

  it('builds plain estypes queries and keeps user text as a value', () => {
    const { q } = spanishInvoices('es')
    expect(q.multiMatch({ description: 1, clientName: 3 }, 'a OR b:*')).toEqual({
      multi_match: {
        query: 'a OR b:*',
        fields: ['description', 'clientName^3'],
        type: 'best_fields',
        tie_breaker: 0.3,
        operator: 'and',
      },
    })
    expect(q.prefix('number', 'FAC-1')).toEqual({
      match: { 'number.prefix': { query: 'FAC-1', operator: 'and' } },
    })
    expect(q.bool({ filter: q.term('paid', true), mustNot: [q.exists('status')] })).toEqual({
      bool: { filter: [{ term: { paid: { value: true } } }], must_not: [{ exists: { field: 'status' } }] },
    })
  })
})
