/**
 * Durations are explicit: a number is milliseconds, a string carries its unit
 * (`'250ms' | '5s' | '10m' | '1h' | '7d'`), as in every `@ayala` package.
 */
import { InvalidOptionError } from './errors.js'

/** Units accepted in a duration string. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

/** A duration: milliseconds as a number, or a string with a unit. */
export type Duration = number | `${number}${DurationUnit}`

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/

/**
 * Convert a {@link Duration} to milliseconds.
 *
 * @param value - a non-negative finite number of milliseconds, or a string such as `'500ms'`
 * @param option - the option being parsed, named in the error
 * @throws InvalidOptionError `E_NEST_INVALID_DURATION` for a negative, non-finite or unparseable value
 */
export function toMilliseconds(value: Duration, option: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value
  } else if (typeof value === 'string') {
    const match = PATTERN.exec(value.trim())
    if (match) return Math.round(Number(match[1]) * UNIT_MS[match[2] as DurationUnit])
  }
  throw new InvalidOptionError(
    option,
    `expected milliseconds as a non-negative number or a string like '500ms', '5s', '10m', got ${JSON.stringify(value)}`,
    'E_NEST_INVALID_DURATION',
  )
}
