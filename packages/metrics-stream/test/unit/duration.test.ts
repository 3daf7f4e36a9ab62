import { describe, expect, it } from 'vitest'
import { toMs } from '../../src/duration.js'
import { MetricsStreamError } from '../../src/errors.js'

// The rule is @ayala/internal's (one table test there); this checks the package's own wrapper:
// the same answers, and its own error class and code.
describe("toMs (the shared duration rule, this package's error)", () => {
  it('keeps fractions and reads every unit', () => {
    expect(toMs('1.5ms', 'x')).toBe(1.5)
    expect(toMs('0.5s', 'x')).toBe(500)
    expect(toMs(250, 'x')).toBe(250)
  })

  it.each([' 5s', '5', '5 s', -1, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects %s with E_STREAM_INVALID_OPTION',
    (input) => {
      let error: unknown
      try {
        toMs(input as never, 'someOption')
      } catch (caught) {
        error = caught
      }
      expect(error).toBeInstanceOf(MetricsStreamError)
      expect((error as MetricsStreamError).code).toBe('E_STREAM_INVALID_OPTION')
      expect((error as Error).message).toContain('someOption')
    },
  )
})

describe('Infinity, where an option documents "Infinity: off"', () => {
  it('passes only with allowInfinity', () => {
    expect(toMs(Number.POSITIVE_INFINITY, 'allowedLateness', true)).toBe(Number.POSITIVE_INFINITY)
    expect(() => toMs(Number.POSITIVE_INFINITY, 'retryDelay')).toThrow(MetricsStreamError)
  })
})
