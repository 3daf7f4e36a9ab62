/**
 * Durations are explicit: a number is milliseconds, a string carries its unit
 * (`'250ms' | '5s' | '10m' | '1h' | '7d'`).
 */
import { OutboxError } from './errors.js'

/** A duration: milliseconds as a number, or a string with a unit (`ms`, `s`, `m`, `h`, `d`). */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Parse a {@link Duration} into milliseconds; `option` names the option in the error. */
export function toMs(value: Duration, option: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value
  } else {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value)
    if (match) return Number(match[1]) * (UNITS[match[2] as string] as number)
  }
  throw new OutboxError(
    'E_OUTBOX_INVALID_OPTION',
    `${option} must be a duration (ms or '5s'), got ${String(value)}`,
  )
}
