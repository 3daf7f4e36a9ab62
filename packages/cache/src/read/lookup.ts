/**
 * Reads without a loader: `get` and `has` past the facade's inlined L1 hit ({@link lookup}), and
 * `getMany` ({@link getMany}).
 *
 * L1 first; then L2 (read/read-entry.ts): a key whose L1 record names its tags is one MGET, a
 * cold key one MGET of the entry and the generation (and, when the entry is tagged, one MGET of
 * its tags' versions), and `getMany` one MGET for all its L1 misses (and one more for the header
 * tags of their entries that no stale L1 record named). {@link expiresAt} reads the entry's own
 * freshness (L1 records carry theirs, capped by `l1Ttl`, so with L2 it is always read there). When Redis is unavailable, a stale L1 value
 * within grace is served (counted as stale), but not while L2 is only held after a recovery:
 * Redis answers then, and a peer's replay may be about to outdate what L1 holds.
 */
import type { CacheStack, Candidate, L1Record } from '../cache-stack.js'
import { check, decode, FRESH, INVALID, STALE } from '../entries/entry.js'
import { L2UnavailableError } from '../errors.js'
import { serveStale } from '../get-set/loader-runner.js'
import { GENERATION_SUFFIX } from '../keys.js'
import { freshFromRead, fromL2, type L1Fill, readEntry } from './read-entry.js'

const NO_TAGS: readonly string[] = Object.freeze([])

/** Lookup without loader (get/has): L1, then L2, then a stale L1 value if Redis is unavailable. */
export async function lookup(
  stack: CacheStack,
  key: string,
  record: L1Record | undefined,
): Promise<Candidate | undefined> {
  stack.assertOpen()
  let stale: L1Record | undefined
  if (record !== undefined) {
    const state = check(stack, record, key)
    if (state === FRESH) {
      stack.l1Hit(key)
      return { value: stack.out(record), staleUntil: record.staleUntil }
    }
    if (state === STALE) stale = record
  }
  if (stack.l2 !== undefined) {
    try {
      // The tags the L1 record had (stale, demoted or invalidated) are the likely tags of the
      // L2 entry: read their versions in the same MGET. Cold (no record), the MGET is of the
      // entry and the generation; a tagged entry's tag versions cost one more MGET.
      const hint = record === undefined || record.tags.length === 1 ? NO_TAGS : record.tags.slice(1)
      const { hit } = await readEntry(stack, key, stack.keys.entry(key), hint, stack.options.l1Ttl)
      if (hit?.fresh) return hit
      stack.counters.misses++
      return undefined
    } catch (error) {
      if (!(error instanceof L2UnavailableError)) throw error
      // Not while L2 is only held after a recovery (see getMany).
      if (stale !== undefined && stack.recovery?.holding !== true)
        return { value: serveStale(stack, key, stale, 'l2-unavailable', error), staleUntil: 0 }
    }
  }
  stack.counters.misses++
  return undefined
}

/**
 * The values of `keys` (undefined for misses): one L2 MGET for all L1 misses, and one more for
 * the versions of their entries' header tags when no L1 record named them.
 */
export async function getMany<T = unknown>(
  stack: CacheStack,
  keys: readonly string[],
): Promise<Array<T | undefined>> {
  stack.assertOpen()
  const out = new Array<T | undefined>(keys.length).fill(undefined)
  const missing: number[] = []
  const stale: Array<L1Record | undefined> = []
  let hints: Set<string> | undefined
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    const record = stack.l1.get(key)
    const state = record === undefined ? INVALID : check(stack, record, key)
    if (state === FRESH) {
      stack.l1Hit(key)
      out[i] = stack.out(record as L1Record) as T
    } else {
      missing.push(i)
      stale.push(state === STALE ? record : undefined)
      // A record still here (stale or invalidated) names the likely tags of the L2 entry.
      if (record !== undefined && record.tags.length > 1) {
        hints ??= new Set()
        for (let t = 1; t < record.tags.length; t++) hints.add(record.tags[t] as string)
      }
    }
  }
  if (missing.length === 0 || stack.l2 === undefined) {
    stack.counters.misses += missing.length
    return out
  }
  // The demotion count when the read is sent: a reply that lands after the bus went down or came
  // back fills L1 stale (entries/entry.ts toL1).
  const epoch = stack.demotions
  try {
    // One MGET of the entries, the generation and the hinted tags; header tags no record named
    // cost one more MGET for all entries (tiers/redis-tier.ts `read`).
    const read = await stack.l2.read(
      missing.map((i) => stack.keys.entry(keys[i] as string)),
      hints === undefined ? NO_TAGS : [...hints],
    )
    stack.observe(GENERATION_SUFFIX, read.generation)
    const fill: L1Fill = { epoch, now: Date.now(), lruStart: performance.now() }
    for (let j = 0; j < missing.length; j++) {
      const i = missing[j] as number
      const hit = freshFromRead(stack, keys[i] as string, read, j, fill)
      if (hit !== undefined) out[i] = hit.value as T
      else stack.counters.misses++
    }
  } catch (error) {
    if (!(error instanceof L2UnavailableError)) throw error
    // Redis is unavailable: serve what L1 still holds within grace (not while L2 is only held
    // after a recovery: it answers, and a peer's replay may be about to outdate these).
    const holding = stack.recovery?.holding === true
    for (let j = 0; j < missing.length; j++) {
      const record = holding ? undefined : stale[j]
      if (record !== undefined) {
        stack.counters.staleServed++
        out[missing[j] as number] = stack.out(record) as T
      } else stack.counters.misses++
    }
  }
  return out
}

/**
 * When the fresh value of `key` stops being fresh (ms since the epoch), or `undefined` when
 * there is none. With L2 the entry is read from Redis (its L1 record's freshness is capped by
 * `l1Ttl`), one round trip, checked like a read (and, being one, it fills L1 and counts as a hit
 * or a miss); Redis unavailable answers `undefined`, as a read would miss. L1 only: the record's.
 */
export async function expiresAt(stack: CacheStack, key: string): Promise<number | undefined> {
  stack.assertOpen()
  if (stack.l2 === undefined) {
    const record = stack.l1.get(key)
    return record !== undefined && check(stack, record, key) === FRESH ? record.freshUntil : undefined
  }
  const epoch = stack.demotions
  try {
    const read = await stack.l2.read([stack.keys.entry(key)], NO_TAGS)
    stack.observe(GENERATION_SUFFIX, read.generation)
    const entry = read.entries[0]
    const envelope = entry?.bytes ? decode(stack, key, entry.bytes) : undefined
    if (entry?.bytes && envelope !== undefined) {
      const fill: L1Fill = { epoch, now: Date.now() }
      const hit = fromL2(stack, key, entry.bytes, read.generation, entry.versions, fill, envelope)
      if (hit?.fresh) return envelope.freshUntil
    }
    stack.counters.misses++
    return undefined
  } catch (error) {
    if (!(error instanceof L2UnavailableError)) throw error
    stack.counters.misses++
    return undefined
  }
}
