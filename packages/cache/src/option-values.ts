/**
 * The value checks of option resolution (options.ts): each returns the value or throws
 * `E_CACHE_INVALID_OPTION` naming the option. Durations are checked by duration.ts.
 */
import { InvalidOptionError } from './errors.js'

/** `value` as a positive (or, with `allowZero`, non-negative) integer. */
export function positiveInteger(value: unknown, name: string, allowZero: boolean): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new InvalidOptionError(
      name,
      `expected ${allowZero ? 'a non-negative' : 'a positive'} integer, got ${String(value)}`,
    )
  }
  return value
}

/** `value` as one of `allowed`. */
export function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new InvalidOptionError(name, `expected one of ${allowed.join(', ')}, got ${String(value)}`)
  }
  return value as T
}

/** `value` as a boolean. */
export function bool(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean')
    throw new InvalidOptionError(name, `expected a boolean, got ${String(value)}`)
  return value
}

/** The options given, without the keys set to `undefined` (which mean "the default"). */
export function stripUndefined(value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v
  return out
}
