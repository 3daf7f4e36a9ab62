import { describe, expect, it } from 'vitest'
import { escapeQueryText, SearchError } from '../../src/index.js'

describe('escapeQueryText', () => {
  it('leaves plain Spanish text alone', () => {
    expect(escapeQueryText('factura electrónica pequeño')).toBe('factura electrónica pequeño')
  })

  it('escapes every Lucene operator and drops < and >', () => {
    expect(escapeQueryText('a+b-c && d || !e (f) {g} [h] ^i "j" ~k *l ?m :n \\o /p <q> =r')).toBe(
      'a\\+b\\-c \\&\\& d \\|\\| \\!e \\(f\\) \\{g\\} \\[h\\] \\^i \\"j\\" \\~k \\*l \\?m \\:n \\\\o \\/p q \\=r',
    )
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
