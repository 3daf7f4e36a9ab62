import { describe, expect, it } from 'vitest'
import { toEngineTime, toMs } from '../../src/duration.js'
import { SearchError } from '../../src/errors.js'

// The duration rule (units, fractions, what is refused) is @ayala/internal's, tested once in
// tools/internal/test/unit/duration.test.ts. Here only what this package adds to it.
describe("toMs: the shared rule, this package's error", () => {
  it("answers the rule's milliseconds; refuses with E_SEARCH_INVALID_OPTION naming the option", () => {
    expect(toMs('1.5s', 'x')).toBe(1_500)
    for (const input of ['5 s', -1]) {
      const refused = expect(() => toMs(input as never, 'someOption'))
      refused.toThrowError(SearchError)
      refused.toThrowError(
        expect.objectContaining({
          code: 'E_SEARCH_INVALID_OPTION',
          message: expect.stringContaining('someOption'),
        }),
      )
    }
  })

  it("writes a duration in the engine's keep-alive syntax, whole milliseconds rounded up", () => {
    expect(toEngineTime('1m', 'keepAlive')).toBe('60000ms')
    expect(toEngineTime(0.25, 'keepAlive')).toBe('1ms')
    expect(() => toEngineTime('1 m' as never, 'keepAlive')).toThrowError(SearchError)
  })
})
