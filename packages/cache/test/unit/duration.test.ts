import { describe, expect, it } from 'vitest'
import { CacheError, toMilliseconds } from '../../src/index.js'

describe('toMilliseconds', () => {
  it('reads a number as milliseconds', () => {
    expect(toMilliseconds(250)).toBe(250)
    expect(toMilliseconds(0)).toBe(0)
  })

  it.each([
    ['250ms', 250],
    ['5s', 5_000],
    ['1.5s', 1_500],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
  ] as const)('reads %s as %d ms', (input, expected) => {
    expect(toMilliseconds(input)).toBe(expected)
  })

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, '10', '10 minutes', '-5s', ''])(
    'rejects %s with E_CACHE_INVALID_DURATION naming the option',
    (input) => {
      let error: unknown
      try {
        toMilliseconds(input as never, 'ttl')
      } catch (caught) {
        error = caught
      }
      expect(error).toBeInstanceOf(CacheError)
      expect((error as CacheError).code).toBe('E_CACHE_INVALID_DURATION')
      expect((error as CacheError).option).toBe('ttl')
      expect((error as CacheError).message).toContain('"ttl"')
    },
  )
})
