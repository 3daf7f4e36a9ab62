/**
 * Entries: how a value becomes an entry in both tiers, and how an L1 record is judged.
 *
 * An entry carries the tag versions read BEFORE its loader ran (its snapshot, the generation
 * first), its freshness and its grace (`staleUntil`). {@link prepare} builds the envelope
 * (negative caching, jitter, grace), puts the record in L1 and returns the L2 write; an L1
 * record's freshness is capped by `l1Ttl`, by `tagTrust` when it has tags and by `busDownL1Ttl`
 * while the bus is down, so that a lost bus message costs a bounded staleness ({@link toL1}).
 *
 * An entry whose snapshot holds a version this instance never saw from Redis (taken while Redis
 * did not answer) goes to L1 only ({@link observed}).
 *
 * {@link check} is the slow path of an L1 read: the record against the local tag table (a hard
 * bump: gone; a soft bump: stale), the bus-down demotion time and the clock, then stamped with
 * the current `seq` so that the facade's inlined hit skips the check until something changes.
 * {@link demote} / {@link demotedBytes} make an entry stale without removing it (`expire`).
 */
import type { CacheStack, L1Record } from '../cache-stack.js'
import type { CallOptions } from '../call-options.js'
import { CacheError } from '../errors.js'
import { GENERATION_ONLY, GENERATION_SUFFIX } from '../keys.js'
import { channels } from '../observability/channels.js'
import { decodeEnvelope, type Envelope, encodeEnvelope } from '../serialization/envelope.js'
import { compareVersion, VersionState } from '../tags/tag-versions.js'
import { deepFreeze, estimateSize } from '../tiers/size.js'

/** What {@link check} found: fresh (served), stale (a grace fallback) or invalid (dropped). */
export type RecordState = 0 | 1 | 2
export const FRESH: RecordState = 0
export const STALE: RecordState = 1
export const INVALID: RecordState = 2

/** An L2 write built by {@link prepare}. */
export interface EntryWrite {
  key: string
  bytes: Buffer
  ttlMs: number
}

/**
 * Build the entry for `value` (negative caching, jitter, grace), put it in L1 and return its
 * L2 write (undefined when nothing goes to L2).
 */
export function prepare(
  stack: CacheStack,
  key: string,
  value: unknown,
  call: CallOptions,
  snapshot: number[],
): EntryWrite | undefined {
  const o = stack.options
  const negative = value === undefined || value === null
  if (negative && o.negativeTtl < 0) {
    stack.l1.delete(key)
    return undefined
  }
  let ttl = negative ? o.negativeTtl : call.ttl
  if (o.jitter > 0) ttl = Math.max(1, Math.round(ttl * (1 - o.jitter * Math.random())))
  if (ttl <= 0) return undefined
  const now = Date.now()
  const envelope: Envelope = {
    createdAt: now,
    freshUntil: now + ttl,
    staleUntil: now + ttl + call.grace,
    tags: call.tagSuffixes.slice(1),
    versions: snapshot,
    value,
  }
  if (stack.l2 === undefined || !observed(stack, call.tagSuffixes)) {
    // L1 only: without Redis, or with a snapshot holding a version this instance never read from
    // Redis (see `observed`).
    toL1(stack, key, envelope, o.l1MaxBytes > 0 ? estimateSize(value) : 0, call.l1Ttl, now)
    return undefined
  }
  let bytes: Buffer
  try {
    bytes = encodeEnvelope(stack.codec, envelope)
  } catch (error) {
    if (error instanceof CacheError)
      throw new CacheError(error.code, error.message, { key, cause: error.cause })
    throw new CacheError('E_CACHE_SERIALIZATION', `Entry for ${JSON.stringify(key)} cannot be stored`, {
      key,
      cause: error,
    })
  }
  toL1(stack, key, envelope, bytes.length, call.l1Ttl, now)
  return { key: stack.keys.entry(key), bytes, ttlMs: envelope.staleUntil - now }
}

/**
 * Whether this instance has seen, from Redis (a read, its own bump, a bus notice), a version of
 * every suffix of an entry's snapshot. A snapshot taken while Redis did not answer holds the local
 * table's versions, and one it never saw is 0: after a `clear()` (or a tag's first invalidation)
 * the entry would be stamped below the server's version, unusable by every reader, while
 * overwriting the L2 entry they could use. Such an entry goes to L1 only.
 */
export function observed(stack: CacheStack, suffixes: readonly string[]): boolean {
  for (let i = 0; i < suffixes.length; i++)
    if (stack.tags.known(suffixes[i] as string) === undefined) return false
  return true
}

/**
 * Put `envelope` in L1 under `key` (see the module note for the freshness caps); returns the value
 * as stored. `lruStart`: the L1's own clock (`performance.now()`) at `now`, when the caller read
 * it once for several fills (a multi-key read); else the L1 reads it. `epoch`: the bus-down
 * demotion count when the L2 read that returned the value was sent; a value read before a
 * demotion is stored stale, since a notice that replaced it may have been lost meanwhile.
 */
export function toL1(
  stack: CacheStack,
  key: string,
  envelope: Envelope,
  size: number,
  l1Ttl: number,
  now: number,
  lruStart?: number,
  epoch = stack.demotions,
): unknown {
  const o = stack.options
  const value = o.l1Values === 'freeze' ? deepFreeze(envelope.value) : envelope.value
  let freshUntil = envelope.freshUntil
  if (stack.l2 !== undefined) {
    freshUntil = Math.min(freshUntil, now + l1Ttl)
    if (envelope.tags.length > 0) freshUntil = Math.min(freshUntil, now + o.tagTrust)
    if (stack.bus !== undefined && !stack.bus.connected)
      freshUntil = Math.min(freshUntil, now + o.busDownL1Ttl)
  }
  const keepUntil = Math.max(freshUntil, envelope.staleUntil)
  if (keepUntil <= now) return value
  // A fill that may predate an invalidation this instance confirmed (bus/coherence.ts `confirm`).
  if (stack.refusedFills.size > 0 && stack.fillRefused(key, now)) return value
  const tags = envelope.tags.length === 0 ? GENERATION_ONLY : [GENERATION_SUFFIX, ...envelope.tags]
  stack.l1.set(
    key,
    {
      value,
      freshUntil,
      staleUntil: envelope.staleUntil,
      tags,
      versions: envelope.tags.length === 0 ? stack.generationOnly(envelope.versions) : envelope.versions,
      seq: -1,
      epoch,
    },
    lruStart === undefined
      ? o.l1MaxBytes > 0
        ? { ttl: keepUntil - now, size: Math.max(1, size) }
        : { ttl: keepUntil - now }
      : o.l1MaxBytes > 0
        ? { ttl: keepUntil - now, size: Math.max(1, size), start: lruStart }
        : { ttl: keepUntil - now, start: lruStart },
  )
  return value
}

/** Slow-path check of an L1 record against the tag table, the demotion time and the clock. */
export function check(stack: CacheStack, record: L1Record, key: string): RecordState {
  const now = Date.now()
  let state: RecordState = record.freshUntil > now ? FRESH : STALE
  if (record.epoch < stack.demotions) state = STALE
  for (let i = 0; i < record.tags.length; i++) {
    const known = stack.tags.known(record.tags[i] as string)
    const snapshot = record.versions[i] as number
    if (known === undefined || known <= snapshot) continue
    const s = compareVersion(snapshot, known)
    if (s === VersionState.Invalid) {
      stack.l1.delete(key)
      return INVALID
    }
    state = STALE
  }
  if (state === FRESH) {
    record.seq = stack.seq
    return FRESH
  }
  if (record.staleUntil > now) return STALE
  stack.l1.delete(key)
  return INVALID
}

/** Make the L1 record of `key` stale (kept as a grace fallback). */
export function demote(stack: CacheStack, key: string): void {
  const record = stack.l1.peek(key)
  if (record !== undefined) record.freshUntil = 0
}

/** `bytes` (the L2 entry of `key`) made stale now, or undefined when it is not fresh (or unreadable). */
export function demotedBytes(stack: CacheStack, key: string, bytes: Buffer): Buffer | undefined {
  const envelope = decode(stack, key, bytes)
  if (envelope === undefined) return undefined
  const now = Date.now()
  if (envelope.freshUntil <= now) return undefined
  envelope.freshUntil = now
  if (envelope.staleUntil < now) envelope.staleUntil = now
  return encodeEnvelope(stack.codec, envelope)
}

/** The envelope of L2 bytes, or undefined (counted, published) when they are foreign or corrupt. */
export function decode(stack: CacheStack, key: string, bytes: Buffer): Envelope | undefined {
  try {
    return decodeEnvelope(stack.codec, bytes)
  } catch (cause) {
    // Foreign or corrupt bytes (another library, a future format, a truncated write) are a
    // miss: the loader's value overwrites them. Counted and published, never thrown.
    stack.counters.corruptEntries++
    if (channels.corrupt.hasSubscribers) {
      const error = new CacheError('E_CACHE_CORRUPT_ENTRY', `Unreadable entry for ${JSON.stringify(key)}`, {
        key,
        cause,
      })
      channels.corrupt.publish({ namespace: stack.options.namespace, key, error })
    }
    return undefined
  }
}
