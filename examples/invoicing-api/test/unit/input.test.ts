/**
 * Properties of the example's input rules (src/validation/input.ts), each checked against an
 * independent oracle on FUZZ_RUNS (default 300) generated cases: dates against the Gregorian
 * calendar of `Date`, integers against BigInt, URLs against a fatal UTF-8 decoder, repeated keys
 * against a parse of the same object built key by key, text against its own definition.
 */
import { isUtf8 } from 'node:buffer'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import {
  DATE_MAX,
  DATE_MIN,
  dateValue,
  duplicateKey,
  INT_MAX,
  integerValue,
  textValue,
  urlProblem,
} from '../../src/validation/input.ts'

const RUNS = Number(process.env.FUZZ_RUNS || 300)
const counts: string[] = []

/** fc.assert with RUNS cases, counting them. */
function check<T>(name: string, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => void): void {
  let cases = 0
  fc.assert(
    fc.property(arbitrary, (value) => {
      cases++
      predicate(value)
    }),
    { numRuns: RUNS },
  )
  counts.push(`${name}: ${cases}`)
}

const refused = (run: () => unknown): boolean => {
  try {
    run()
    return false
  } catch (error) {
    expect(error).toMatchObject({ status: 400 })
    return true
  }
}

afterAll(() => console.log(`[property] input rules, cases tried: ${counts.join(', ')}`))

describe('input rules', () => {
  it('accepts a date exactly when the calendar has it, within DATE', () => {
    const pad = (n: number, width: number) => String(n).padStart(width, '0')
    check(
      'dates',
      fc.tuple(
        fc.integer({ min: 0, max: 10_999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
      ),
      ([year, month, day]) => {
        const text = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`
        const date = new Date(0)
        date.setUTCFullYear(year, month - 1, day)
        const real =
          date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
        const expected = real && text >= DATE_MIN && text <= DATE_MAX && text.length === 10
        expect(refused(() => dateValue('d', text))).toBe(!expected)
      },
    )
  })

  it('accepts an integer exactly when it is canonical and within [1, INT_MAX], and returns its value', () => {
    check(
      'integers',
      fc.oneof(
        fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
        fc.integer({ min: -5, max: INT_MAX + 5 }).map(String),
        fc.stringMatching(/^[-+0-9.e ]{0,12}$/),
      ),
      (text) => {
        const canonical = /^(0|-?[1-9]\d*)$/.test(text)
        const expected = canonical && BigInt(text) >= 1n && BigInt(text) <= BigInt(INT_MAX)
        if (expected) expect(integerValue('id', text, 1, INT_MAX)).toBe(Number(text))
        else expect(refused(() => integerValue('id', text, 1, INT_MAX))).toBe(true)
      },
    )
  })

  it('refuses a URL exactly when its percent-escapes are not UTF-8', () => {
    check('urls of escaped bytes', fc.uint8Array({ maxLength: 24 }), (bytes) => {
      const url = `/search?q=${Array.from(bytes, (b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`
      expect(urlProblem(url) === undefined).toBe(isUtf8(bytes))
    })
    check('urls of any text', fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
      expect(urlProblem(`/search?q=${encodeURIComponent(text)}`)).toBeUndefined()
    })
  })

  it('finds a repeated key at any depth, and none in what JSON.stringify writes', () => {
    check('json without repeats', fc.jsonValue(), (value) => {
      expect(duplicateKey(JSON.stringify(value))).toBeUndefined()
    })
    check(
      'json with a repeated key',
      fc.tuple(
        fc.string(),
        fc.jsonValue(),
        fc.jsonValue(),
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
        fc.nat(3),
      ),
      ([key, a, b, rest, depth]) => {
        const others = Object.entries(rest)
          .filter(([k]) => k !== key)
          .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
        let text = `{${[`${JSON.stringify(key)}:${JSON.stringify(a)}`, ...others, `${JSON.stringify(key)}:${JSON.stringify(b)}`].join(',')}}`
        for (let i = 0; i < depth; i++) text = i % 2 === 0 ? `[1,${text}]` : `{"x${i}":${text}}`
        JSON.parse(text)
        expect(duplicateKey(text)).toBe(key)
      },
    )
  })

  it('returns text that is trimmed, well formed, without controls and within its length, or refuses it', () => {
    check(
      'text',
      fc.string({
        unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
        maxLength: 30,
      }),
      (raw) => {
        let out: string | undefined
        const wasRefused = refused(() => {
          out = textValue('t', raw, { maxLength: 20 })
        })
        const wellFormed = (raw as unknown as { isWellFormed(): boolean }).isWellFormed()
        const trimmed = raw.trim()
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the rule under test
        const clean = !/[\u0000-\u001f\u007f-\u009f]/.test(trimmed)
        const expected = wellFormed && trimmed !== '' && trimmed.length <= 20 && clean
        expect(wasRefused).toBe(!expected)
        if (expected) expect(out).toBe(trimmed)
      },
    )
  })
})
