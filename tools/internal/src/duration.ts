/**
 * The one duration rule of every `@ayala` package: a number is milliseconds, a string carries its
 * unit. Each package wraps {@link parseDuration} with its own error class and code; this module
 * is bundled into each package's build (tsup `noExternal`), so the rule cannot drift between them.
 *
 * The rule, with one table test (`test/unit/duration.test.ts`):
 * - a number: finite and >= 0, taken as is (fractions kept: `0.25` is 250 us);
 * - `Infinity`: only where the option says "Infinity: off" (`allowInfinity`);
 * - a string: `<digits>[.<digits>]<unit>` with unit `ms | s | m | h | d`, nothing else around it
 *   (no spaces, no sign, no exponent), fractions kept (`'1.5ms'` is 1.5, `'0.5s'` is 500);
 * - anything else (negative, NaN, `'5'`, `' 5s'`, `'5 s'`, `'5sec'`, `null`): invalid.
 *
 * Callers that hand a duration to an API taking whole milliseconds (Redis `PX`, `setTimeout`)
 * round there, up, where the meaning is known.
 */

/** Units of a duration string. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

/** A duration: milliseconds as a number, or a string with a unit (`'250ms'`, `'5s'`, `'10m'`). */
export type Duration = number | `${number}${DurationUnit}`

/** Options of {@link parseDuration}. */
export interface ParseDurationOptions {
  /** Accept `Infinity` (an option documented as "Infinity: off"). @default false */
  allowInfinity?: boolean | undefined
}

const UNIT_MS: Readonly<Record<DurationUnit, number>> = Object.freeze({
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
})
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/

/** What an error message says a duration should be. */
export const DURATION_EXPECTED =
  "milliseconds as a number >= 0, or a string like '250ms', '5s', '10m', '1h', '7d'"

/** Milliseconds of `value`, or `undefined` when it is not a valid duration. */
export function parseDuration(value: unknown, options?: ParseDurationOptions): number | undefined {
  if (typeof value === 'number') {
    if (value === Number.POSITIVE_INFINITY) return options?.allowInfinity === true ? value : undefined
    return Number.isFinite(value) && value >= 0 ? value : undefined
  }
  if (typeof value !== 'string') return undefined
  const match = PATTERN.exec(value)
  if (match === null) return undefined
  return Number(match[1]) * UNIT_MS[match[2] as DurationUnit]
}
