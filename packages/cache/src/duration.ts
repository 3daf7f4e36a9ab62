/**
 * Durations are explicit everywhere in this package: a number is milliseconds, a string carries
 * its unit (`'250ms' | '5s' | '10m' | '1h' | '7d'`). No seconds-vs-milliseconds guessing. The rule
 * itself is the one every `@ayala` package shares (`@ayala/internal`, bundled at build time).
 */
import { DURATION_EXPECTED, parseDuration } from '@ayala/internal'
import { CacheError } from './errors.js'

/** A duration: milliseconds as a number, or a string with a unit. */
export type Duration = number | `${number}${DurationUnit}`

/** Units accepted in a duration string. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

/**
 * Convert a {@link Duration} to milliseconds (fractions kept: `'1.5ms'` is 1.5).
 *
 * @param value - a non-negative finite number of milliseconds, or a string such as `'10m'`
 * @param name - the option being parsed, named in the error
 * @throws CacheError `E_CACHE_INVALID_DURATION` for a negative, non-finite or unparseable value
 */
export function toMilliseconds(value: Duration, name = 'duration'): number {
  const ms = parseDuration(value)
  if (ms !== undefined) return ms
  throw new CacheError(
    'E_CACHE_INVALID_DURATION',
    `Invalid duration for "${name}": ${JSON.stringify(value)} (expected ${DURATION_EXPECTED})`,
    { option: name },
  )
}
