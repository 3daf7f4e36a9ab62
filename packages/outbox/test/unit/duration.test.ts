import { describe, expect, it } from 'vitest'
import { toMs } from '../../src/duration.ts'
import { OutboxError } from '../../src/errors.ts'

// The duration rule (units, fractions, what is refused) is @ayala/internal's, tested once in
// tools/internal/test/unit/duration.test.ts. Here only what this package adds to it.
describe("toMs: the shared rule, this package's error", () => {
  it("answers the rule's milliseconds; refuses with E_OUTBOX_INVALID_OPTION naming the option", () => {
    expect(toMs('1.5s', 'x')).toBe(1_500)
    for (const input of ['5 s', -1]) {
      const refused = expect(() => toMs(input as never, 'someOption'))
      refused.toThrowError(OutboxError)
      refused.toThrowError(
        expect.objectContaining({
          code: 'E_OUTBOX_INVALID_OPTION',
          message: expect.stringContaining('someOption'),
        }),
      )
    }
  })
})
