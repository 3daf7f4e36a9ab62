import { describe, expect, it } from 'vitest'
import { toMilliseconds } from '../../src/duration.js'
import { InvalidOptionError } from '../../src/errors.js'

// The duration rule (units, fractions, what is refused) is @ayala/internal's, tested once in
// tools/internal/test/unit/duration.test.ts. Here only what this package adds to it.
describe("toMilliseconds: the shared rule, this package's error", () => {
  it("answers the rule's milliseconds; refuses with E_NEST_INVALID_DURATION naming the option", () => {
    expect(toMilliseconds('1.5s', 'x')).toBe(1_500)
    for (const input of ['5 s', -1]) {
      const refused = expect(() => toMilliseconds(input as never, 'someOption'))
      refused.toThrowError(InvalidOptionError)
      refused.toThrowError(
        expect.objectContaining({
          code: 'E_NEST_INVALID_DURATION',
          message: expect.stringContaining('someOption'),
        }),
      )
    }
  })
})
