import { describe, expect, it } from 'vitest'
import { parseDuration } from '../../src/index.ts'

/** The one table of the duration rule; every package's parser is this function. */
const TABLE: Array<[input: unknown, ms: number | undefined, note: string]> = [
  [0, 0, 'zero'],
  [250, 250, 'a number is milliseconds'],
  [0.25, 0.25, 'fractions of a millisecond are kept'],
  [-1, undefined, 'negative'],
  [Number.NaN, undefined, 'NaN'],
  [Number.POSITIVE_INFINITY, undefined, 'Infinity, unless allowed'],
  [Number.NEGATIVE_INFINITY, undefined, '-Infinity'],
  ['250ms', 250, 'ms'],
  ['5s', 5_000, 's'],
  ['10m', 600_000, 'm'],
  ['1h', 3_600_000, 'h'],
  ['7d', 604_800_000, 'd'],
  ['1.5ms', 1.5, 'a fraction of ms is kept, not rounded'],
  ['0.5s', 500, 'a fraction of a second'],
  ['0ms', 0, 'zero with a unit'],
  ['5', undefined, 'a string needs a unit'],
  [' 5s', undefined, 'no leading space'],
  ['5s ', undefined, 'no trailing space'],
  ['5 s', undefined, 'no inner space'],
  ['5sec', undefined, 'unknown unit'],
  ['5S', undefined, 'units are lower case'],
  ['-5s', undefined, 'no sign'],
  ['+5s', undefined, 'no plus sign'],
  ['1e3ms', undefined, 'no exponent'],
  ['.5s', undefined, 'digits before the point'],
  ['5.s', undefined, 'digits after the point'],
  ['', undefined, 'empty'],
  ['Infinity', undefined, 'Infinity as a string'],
  [null, undefined, 'null'],
  [undefined, undefined, 'undefined'],
  [{}, undefined, 'an object'],
  [BigInt(10), undefined, 'a bigint'],
]

describe('parseDuration: one rule for every package', () => {
  it.each(TABLE.map(([input, ms, note]) => [String(input), ms, note, input] as const))(
    '%s -> %s (%s)',
    (_shown, ms, _note, input) => {
      expect(parseDuration(input)).toBe(ms)
    },
  )

  it('accepts Infinity only where the option allows it', () => {
    expect(parseDuration(Number.POSITIVE_INFINITY, { allowInfinity: true })).toBe(Number.POSITIVE_INFINITY)
    expect(parseDuration(Number.NEGATIVE_INFINITY, { allowInfinity: true })).toBeUndefined()
    expect(parseDuration('Infinity', { allowInfinity: true })).toBeUndefined()
  })
})
