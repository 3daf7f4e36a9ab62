import { describe, expect, it } from 'vitest'
import { toMilliseconds } from '../../src/duration.js'
import { InvalidOptionError } from '../../src/errors.js'

// The rule is @ayala/internal's (one table test there); this checks the package's own wrapper:
// the same answers, and its own error class and code.
describe("toMilliseconds (the shared duration rule, this package's error)", () => {
  it('keeps fractions and reads every unit', () => {
    expect(toMilliseconds('1.5ms', 'x')).toBe(1.5)
    expect(toMilliseconds('0.5s', 'x')).toBe(500)
    expect(toMilliseconds(250, 'x')).toBe(250)
  })

  it.each([' 5s', '5', '5 s', -1, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects %s with E_NEST_INVALID_DURATION',
    (input) => {
      let error: unknown
      try {
        toMilliseconds(input as never, 'someOption')
      } catch (caught) {
        error = caught
      }
      expect(error).toBeInstanceOf(InvalidOptionError)
      expect((error as InvalidOptionError).code).toBe('E_NEST_INVALID_DURATION')
      expect((error as Error).message).toContain('someOption')
    },
  )
})
