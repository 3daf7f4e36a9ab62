import { MetricsStreamError } from './errors.js'

/**
 * A duration: a number is milliseconds; a string carries its unit, `'250ms' | '5s' | '10m' | '1h' |
 * '7d'`.
 */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/

/** Milliseconds of a {@link Duration}; `Infinity` passes through. @internal */
export function toMs(value: Duration, option: string): number {
  if (typeof value === 'number') {
    if (value >= 0 && !Number.isNaN(value)) return value
  } else {
    const match = PATTERN.exec(value)
    if (match?.[1] !== undefined && match[2] !== undefined) return Number(match[1]) * (UNITS[match[2]] ?? 0)
  }
  throw new MetricsStreamError(
    'E_STREAM_INVALID_OPTION',
    `Invalid duration for ${option}: ${JSON.stringify(value)} (a number of ms or '250ms' | '5s' | '10m' | '1h' | '7d')`,
  )
}
