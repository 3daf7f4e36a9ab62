/**
 * Durations are explicit: a number is milliseconds, a string carries its unit
 * (`'250ms' | '5s' | '10m' | '1h' | '7d'`), by the one rule every `@ayala` package shares
 * (`@ayala/internal`, bundled at build time).
 */
import { DURATION_EXPECTED, parseDuration } from '@ayala/internal'
import { SearchError } from './errors.js'

/** A duration: milliseconds as a number, or a string with a unit (`ms`, `s`, `m`, `h`, `d`). */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`

/** Parse a {@link Duration} into milliseconds (fractions kept); `option` names the option in the error. */
export function toMs(value: Duration, option: string): number {
  const ms = parseDuration(value)
  if (ms !== undefined) return ms
  throw new SearchError(
    'E_SEARCH_INVALID_OPTION',
    `${option} must be a duration (${DURATION_EXPECTED}), got ${JSON.stringify(value)}`,
  )
}

/** Engine keep-alive syntax (`'60000ms'`) for a duration. */
export function toEngineTime(value: Duration, option: string): string {
  return `${Math.ceil(toMs(value, option))}ms`
}
