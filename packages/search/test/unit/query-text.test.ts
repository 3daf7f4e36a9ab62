import { describe, expect, it } from 'vitest'
import { defineIndex, escapeQueryText, field, parseSimpleQuery, SearchError } from '../../src/index.js'

describe('escapeQueryText', () => {
  it('leaves plain Spanish text alone', () => {
    expect(escapeQueryText('factura electrónica pequeño')).toBe('factura electrónica pequeño')
  })

  it('escapes every Lucene operator and drops < and >', () => {
    expect(escapeQueryText('a+b-c && d || !e (f) {g} [h] ^i "j" ~k *l ?m :n \\o /p <q> =r')).toBe(
      'a\\+b\\-c \\&\\& d \\|\\| \\!e \\(f\\) \\{g\\} \\[h\\] \\^i \\"j\\" \\~k \\*l \\?m \\:n \\\\o \\/p q \\=r',
    )
  })

  it('escapes the operator words AND, OR, NOT (whole words only)', () => {
    expect(escapeQueryText('climatizacion OR ascensor')).toBe('climatizacion \\OR ascensor')
    expect(escapeQueryText('NOT a AND b')).toBe('\\NOT a \\AND b')
    expect(escapeQueryText('ORDEN or Oregon NOTA')).toBe('ORDEN or Oregon NOTA')
  })

  it('rejects over-long text with a typed error', () => {
    expect(() => escapeQueryText('x'.repeat(11), 10)).toThrowError(SearchError)
    try {
      escapeQueryText('x'.repeat(11), 10)
    } catch (error) {
      expect((error as SearchError).code).toBe('E_SEARCH_QUERY_TOO_LONG')
    }
  })
})

describe('parseSimpleQuery', () => {
  it('reads words, phrases, OR groups and exclusions', () => {
    expect(parseSimpleQuery('climatizacion OR ascensor')).toEqual({
      words: [],
      phrases: [],
      anyOf: [
        [
          { kind: 'word', text: 'climatizacion' },
          { kind: 'word', text: 'ascensor' },
        ],
      ],
      none: [],
    })
    expect(parseSimpleQuery('x a | "b c" y -z NOT w -"p q" AND +v')).toEqual({
      words: ['x', 'y', 'v'],
      phrases: [],
      anyOf: [
        [
          { kind: 'word', text: 'a' },
          { kind: 'phrase', text: 'b c' },
        ],
      ],
      none: [
        { kind: 'word', text: 'z' },
        { kind: 'word', text: 'w' },
        { kind: 'phrase', text: 'p q' },
      ],
    })
  })

  it('gives every string one meaning: dangling operators are ignored, lowercase ones are words', () => {
    expect(parseSimpleQuery('OR a OR')).toEqual({ words: ['a'], phrases: [], anyOf: [], none: [] })
    expect(parseSimpleQuery('a or b')).toEqual({ words: ['a', 'or', 'b'], phrases: [], anyOf: [], none: [] })
    expect(parseSimpleQuery('"unclosed phrase')).toEqual({
      words: [],
      phrases: ['unclosed phrase'],
      anyOf: [],
      none: [],
    })
    expect(parseSimpleQuery(' - "" NOT')).toEqual({ words: ['-'], phrases: [], anyOf: [], none: [] })
    expect(parseSimpleQuery('FAC-2026-01')).toEqual({
      words: ['FAC-2026-01'],
      phrases: [],
      anyOf: [],
      none: [],
    })
  })
})

describe('full-text helpers read user text one documented way', () => {
  const index = defineIndex({
    name: 'qt',
    id: 'id',
    fields: { id: field.keyword(), description: field.text({ analyzer: 'standard' }), client: field.text() },
  })

  it('plain (default): one match of the text as a value, every word required', () => {
    expect(index.q.match('description', 'climatizacion OR ascensor')).toEqual({
      match: { description: { query: 'climatizacion OR ascensor', operator: 'and' } },
    })
    expect(index.q.match('description', 'a b', { operator: 'or' })).toEqual({
      match: { description: { query: 'a b', operator: 'or' } },
    })
  })

  it('simple: the same query for text without operators, a bool otherwise', () => {
    expect(index.q.match('description', 'climatizacion ascensor', { syntax: 'simple' })).toEqual(
      index.q.match('description', 'climatizacion ascensor'),
    )
    expect(index.q.multiMatch(['description', 'client'], 'x OR y -z "p q"', { syntax: 'simple' })).toEqual({
      bool: {
        must: [
          { multi_match: { query: 'p q', fields: ['description', 'client'], type: 'phrase' } },
          {
            bool: {
              should: [
                {
                  multi_match: {
                    query: 'x',
                    fields: ['description', 'client'],
                    type: 'best_fields',
                    tie_breaker: 0.3,
                    operator: 'and',
                  },
                },
                {
                  multi_match: {
                    query: 'y',
                    fields: ['description', 'client'],
                    type: 'best_fields',
                    tie_breaker: 0.3,
                    operator: 'and',
                  },
                },
              ],
              minimum_should_match: 1,
            },
          },
        ],
        must_not: [
          {
            multi_match: {
              query: 'z',
              fields: ['description', 'client'],
              type: 'best_fields',
              tie_breaker: 0.3,
              operator: 'and',
            },
          },
        ],
      },
    })
    expect(index.q.match('description', '""', { syntax: 'simple' })).toEqual({ match_none: {} })
    expect(() => index.q.match('description', 'x', { syntax: 'lucene' as never })).toThrowError(/syntax/)
  })

  it('fuzzy expansion: prefixLength and maxExpansions beside fuzziness, checked', () => {
    expect(
      index.q.multiMatch(['description', 'client'], 'climatisacion', {
        fuzziness: 'AUTO',
        prefixLength: 1,
        maxExpansions: 10,
      }),
    ).toEqual({
      multi_match: {
        query: 'climatisacion',
        fields: ['description', 'client'],
        type: 'best_fields',
        tie_breaker: 0.3,
        operator: 'and',
        fuzziness: 'AUTO',
        prefix_length: 1,
        max_expansions: 10,
      },
    })
    expect(index.q.match('description', 'x', { fuzziness: 1, prefixLength: 0 })).toEqual({
      match: { description: { query: 'x', operator: 'and', fuzziness: 1, prefix_length: 0 } },
    })
    const codeOf = (options: object): string | undefined => {
      try {
        index.q.match('description', 'x', options)
        return undefined
      } catch (error) {
        return error instanceof SearchError ? `${error.code}: ${error.message}` : String(error)
      }
    }
    expect(codeOf({ prefixLength: 1 })).toBe(
      'E_SEARCH_INVALID_OPTION: prefixLength applies to fuzzy matching: give fuzziness too',
    )
    expect(codeOf({ maxExpansions: 5 })).toMatch(/^E_SEARCH_INVALID_OPTION: maxExpansions applies/)
    expect(codeOf({ fuzziness: 'AUTO', prefixLength: -1 })).toMatch(
      /prefixLength must be an integer of at least 0/,
    )
    expect(codeOf({ fuzziness: 'AUTO', prefixLength: 1.5 })).toMatch(/prefixLength must be an integer/)
    expect(codeOf({ fuzziness: 'AUTO', maxExpansions: 0 })).toMatch(
      /maxExpansions must be an integer of at least 1/,
    )
    expect(codeOf({ fuzziness: 'AUTO', maxExpansions: '10' })).toMatch(/maxExpansions must be an integer/)
    // Whatever the text holds: a phrase alone has no words to expand, the options are still checked.
    expect(() =>
      index.q.match('description', '"climatizacion urgente"', {
        syntax: 'simple',
        fuzziness: 1,
        prefixLength: -1,
      }),
    ).toThrowError(/prefixLength must be an integer/)
  })
})
