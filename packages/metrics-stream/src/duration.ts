/**
 * Durations: a number is milliseconds; a string carries its unit, `'250ms' | '5s' | '10m' | '1h' |
 * '7d'`, by the one rule every `@ayala` package shares (`@ayala/internal`, bundled at build time).
 */
import { DURATION_EXPECTED, parseDuration } from '@ayala/internal'
import { MetricsStreamError } from './errors.js'

/**
 * A duration: a number is milliseconds; a string carries its unit, `'250ms' | '5s' | '10m' | '1h' |
 * '7d'`.
 */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`

/**
 * Milliseconds of a {@link Duration} (fractions kept). `Infinity` only where the option documents
 * it (`allowInfinity`: "Infinity: off"). @internal
 */
export function toMs(value: Duration, option: string, allowInfinity = false): number {
  const ms = parseDuration(value, { allowInfinity })
  if (ms !== undefined) return ms
  throw new MetricsStreamError(
    'E_STREAM_INVALID_OPTION',
    `Invalid duration for ${option}: ${JSON.stringify(value)} (expected ${DURATION_EXPECTED}${allowInfinity ? ', or Infinity' : ''})`,
  )
}
