/**
 * A query fingerprint is the request's shape with every value replaced by `?` and object keys
 * sorted, so two searches for different words with the same filters share one fingerprint
 * (slow-query events group by it), and no user text leaks into logs.
 */
import { createHash } from 'node:crypto'

function shape(value: unknown): unknown {
  if (Array.isArray(value)) {
    // Arrays of scalars collapse to one `?` (a terms list of 3 or 300 values is one shape).
    if (value.every((item) => item === null || typeof item !== 'object')) return '?'
    return value.map(shape)
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) out[key] = shape((value as Record<string, unknown>)[key])
    return out
  }
  return '?'
}

/** The value-free shape of a search body, as canonical JSON. */
export function queryShape(body: unknown): string {
  return JSON.stringify(shape(body)) ?? '?'
}

/** A short stable hash (16 hex chars) of {@link queryShape}. */
export function queryFingerprint(body: unknown): string {
  return createHash('sha1').update(queryShape(body)).digest('hex').slice(0, 16)
}
