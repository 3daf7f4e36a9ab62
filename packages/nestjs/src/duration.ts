/**
 * Durations are explicit: a number is milliseconds, a string carries its unit
 * (`'250ms' | '5s' | '10m' | '1h' | '7d'`), by the one rule every `@ayala` package shares
 * (`@ayala/internal`, bundled at build time).
 */
import { DURATION_EXPECTED, parseDuration } from '@ayala/internal'
import { InvalidOptionError } from './errors.js'

/** Units accepted in a duration string. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

/** A duration: milliseconds as a number, or a string with a unit. */
export type Duration = number | `${number}${DurationUnit}`

/**
 * Convert a {@link Duration} to milliseconds (fractions kept: `'1.5ms'` is 1.5).
 *
 * @param value - a non-negative finite number of milliseconds, or a string such as `'500ms'`
 * @param option - the option being parsed, named in the error
 * @throws InvalidOptionError `E_NEST_INVALID_DURATION` for a negative, non-finite or unparseable value
 */
export function toMilliseconds(value: Duration, option: string): number {
  const ms = parseDuration(value)
  if (ms !== undefined) return ms
  throw new InvalidOptionError(
    option,
    `expected ${DURATION_EXPECTED}, got ${JSON.stringify(value)}`,
    'E_NEST_INVALID_DURATION',
  )
}
