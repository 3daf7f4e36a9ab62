/**
 * Durations are explicit everywhere in this package: a number is milliseconds, a string carries
 * its unit (`'250ms' | '5s' | '10m' | '1h' | '7d'`). No seconds-vs-milliseconds guessing.
 */
import { CacheError } from './errors.js'

/** A duration: milliseconds as a number, or a string with a unit. */
export type Duration = number | `${number}${DurationUnit}`

/** Units accepted in a duration string. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/

/**
 * Convert a {@link Duration} to milliseconds.
 *
 * @param value - a non-negative finite number of milliseconds, or a string such as `'10m'`
 * @param name - the option being parsed, named in the error
 * @throws CacheError `E_CACHE_INVALID_DURATION` for a negative, non-finite or unparseable value
 */
export function toMilliseconds(value: Duration, name = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value
  } else if (typeof value === 'string') {
    const match = PATTERN.exec(value.trim())
    if (match) return Math.round(Number(match[1]) * UNIT_MS[match[2] as DurationUnit])
  }
  throw new CacheError(
    'E_CACHE_INVALID_DURATION',
    `Invalid duration for "${name}": ${JSON.stringify(value)} (expected milliseconds as a non-negative number, or a string like '250ms', '5s', '10m', '1h', '7d')`,
    { option: name },
  )
}
