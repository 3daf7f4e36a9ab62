import { describe, expect, it } from 'vitest'
import { toMs } from '../../src/duration.js'
import { SearchError } from '../../src/errors.js'

// The rule is @ayala/internal's (one table test there); this checks the package's own wrapper:
// the same answers, and its own error class and code.
describe("toMs (the shared duration rule, this package's error)", () => {
  it('keeps fractions and reads every unit', () => {
    expect(toMs('1.5ms', 'x')).toBe(1.5)
    expect(toMs('0.5s', 'x')).toBe(500)
    expect(toMs(250, 'x')).toBe(250)
  })

  it.each([' 5s', '5', '5 s', -1, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects %s with E_SEARCH_INVALID_OPTION',
    (input) => {
      let error: unknown
      try {
        toMs(input as never, 'someOption')
      } catch (caught) {
        error = caught
      }
      expect(error).toBeInstanceOf(SearchError)
      expect((error as SearchError).code).toBe('E_SEARCH_INVALID_OPTION')
      expect((error as Error).message).toContain('someOption')
    },
  )
})

describe('durations', () => {
  it('parse numbers as ms and strings with units', () => {
    expect(toMs(250, 'x')).toBe(250)
    expect(toMs('250ms', 'x')).toBe(250)
    expect(toMs('5s', 'x')).toBe(5_000)
    expect(toMs('10m', 'x')).toBe(600_000)
    expect(toMs('1h', 'x')).toBe(3_600_000)
    expect(toMs('7d', 'x')).toBe(604_800_000)
  })
  it('reject anything else naming the option', () => {
    for (const bad of [-1, Number.NaN, '5 s', '5', 'fast']) {
      expect(() => toMs(bad as never, 'keepAlive')).toThrowError(SearchError)
      expect(() => toMs(bad as never, 'keepAlive')).toThrowError(/keepAlive/)
    }
  })
})
