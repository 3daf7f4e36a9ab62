/**
 * Entity mode's rules for keys and versions, kept apart from the consumer so they can be tested
 * without Redis.
 *
 * Versions travel as decimal strings (from a safe integer or a bigint, so outbox sequences beyond
 * 2^53 work), never with leading zeros, so two versions compare by length first and then as
 * strings, without BigInt on the hot path. The apply script compares them only for equality
 * (its compare-and-set); the ordering is decided in Node.
 */
import { MetricsStreamError } from '../errors.js'

/** Longest entity key accepted, in UTF-16 code units. */
export const MAX_ENTITY_KEY_LENGTH = 1_024

function invalid(message: string): MetricsStreamError {
  return new MetricsStreamError('E_STREAM_INVALID_ENTITY', message)
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 50))
  if (typeof value === 'bigint') return `${value}n`
  return String(value)
}

/**
 * The hash field of an entity key.
 * @throws MetricsStreamError `E_STREAM_INVALID_ENTITY` for anything but a non-empty string of at
 * most {@link MAX_ENTITY_KEY_LENGTH} characters or a safe integer
 */
export function entityKey(key: unknown): string {
  if (typeof key === 'string') {
    if (key.length > 0 && key.length <= MAX_ENTITY_KEY_LENGTH) return key
  } else if (typeof key === 'number' && Number.isSafeInteger(key)) {
    return String(key)
  }
  throw invalid(
    `entity key ${show(key)} is not a non-empty string of at most ${MAX_ENTITY_KEY_LENGTH} characters or a safe integer`,
  )
}

/**
 * The canonical decimal form of an entity version.
 * @throws MetricsStreamError `E_STREAM_INVALID_ENTITY` for anything but a non-negative safe
 * integer or bigint
 */
export function entityVersion(version: unknown): string {
  if (typeof version === 'number' && Number.isSafeInteger(version) && version >= 0) return String(version)
  if (typeof version === 'bigint' && version >= 0n) return version.toString()
  throw invalid(`entity version ${show(version)} is not a non-negative safe integer or bigint`)
}

/** Order of two canonical versions: negative, 0 or positive. */
export function compareVersions(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length
  return a < b ? -1 : a > b ? 1 : 0
}
