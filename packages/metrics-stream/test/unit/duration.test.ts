import { describe, expect, it } from 'vitest'
import { toMs } from '../../src/duration.js'
import { MetricsStreamError } from '../../src/errors.js'

// The duration rule (units, fractions, what is refused) is @ayala/internal's, tested once in
// tools/internal/test/unit/duration.test.ts. Here only what this package adds to it.
describe("toMs: the shared rule, this package's error", () => {
  it("answers the rule's milliseconds; refuses with E_STREAM_INVALID_OPTION naming the option", () => {
    expect(toMs('1.5s', 'x')).toBe(1_500)
    for (const input of ['5 s', -1]) {
      const refused = expect(() => toMs(input as never, 'someOption'))
      refused.toThrowError(MetricsStreamError)
      refused.toThrowError(
        expect.objectContaining({
          code: 'E_STREAM_INVALID_OPTION',
          message: expect.stringContaining('someOption'),
        }),
      )
    }
  })

  it('passes Infinity only where an option documents "Infinity: off", and says so when refusing', () => {
    expect(toMs(Number.POSITIVE_INFINITY, 'allowedLateness', true)).toBe(Number.POSITIVE_INFINITY)
    expect(() => toMs('5 s' as never, 'allowedLateness', true)).toThrowError(/or Infinity/)
    expect(() => toMs(Number.POSITIVE_INFINITY, 'retryDelay')).toThrowError(MetricsStreamError)
  })
})
