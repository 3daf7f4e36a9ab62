import { describe, expect, it } from 'vitest'
import { queryFingerprint } from '../../../src/index.js'
import { queryShape } from '../../../src/observability/fingerprint.js'

describe('query fingerprints', () => {
  it('ignore values and key order but not shape', () => {
    const a = { query: { match: { description: { query: 'servicio' } } }, size: 10 }
    const b = { size: 50, query: { match: { description: { query: 'licencia' } } } }
    const c = { query: { match: { clientName: { query: 'servicio' } } }, size: 10 }
    expect(queryFingerprint(a)).toBe(queryFingerprint(b))
    expect(queryFingerprint(a)).not.toBe(queryFingerprint(c))
    expect(queryShape(a)).not.toContain('servicio')
  })
})
