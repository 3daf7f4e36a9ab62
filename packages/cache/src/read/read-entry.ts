/**
 * The L2 read, one round trip, and the check of what it returned.
 *
 * Single key ({@link readEntry}: `getOrSet`, a `get`/`has` whose L1 record names the entry's tags,
 * lease waiters): ONE MGET, no script, of the entry, the namespace generation and the tags the
 * caller is about to snapshot. MGET is atomic, so the entry and the versions are one consistent
 * snapshot, and the versions read are also the snapshot of a load that follows a miss (the
 * refill race). Tags in the entry's header that the caller did not name cost one more MGET
 * ({@link entryTagVersions}), so every tag is checked whatever the caller guessed. A cold
 * `get`/`has` (no L1 record) is the same MGET with no tags named: a tagged entry's tags then cost
 * the second MGET.
 *
 * Several keys (`getMany`, `getOrSetMany`, `expiresAt`): the tier's multi-key read
 * (tiers/redis-tier.ts `read`), one MGET of the entries, the generation and the tags named, and
 * one more for header tags nobody named ({@link freshFromRead} takes one entry of its reply).
 *
 * {@link fromL2} checks an entry's snapshot against the versions read with it: fresh (counted
 * as an L2 hit, filled into L1), stale (a soft-bumped tag, or past freshness within grace: a
 * fallback candidate) or invalid, foreign or corrupt (a miss).
 */
import type { CacheStack, Candidate } from '../cache-stack.js'
import { decode, toL1 } from '../entries/entry.js'
import { GENERATION_SUFFIX } from '../keys.js'
import { channels } from '../observability/channels.js'
import type { Envelope } from '../serialization/envelope.js'
import { compareVersion, VersionState } from '../tags/tag-versions.js'
import type { ReadResult } from '../tiers/redis-replies.js'
import type { RedisTier } from '../tiers/redis-tier.js'

/** A candidate from L2, and whether it is fresh. */
export type L2Candidate = Candidate & { fresh: boolean }

/**
 * How one L2 read fills L1, built once per read (a multi-key read's entries share it): `epoch`,
 * the bus-down demotion count when the read was SENT (a reply that lands after the bus went down
 * or came back fills L1 stale: entries/entry.ts `toL1`); `now` (`Date.now()`) and `lruStart`
 * (`performance.now()`, else the L1 reads it), read once for the reply, whose entries are one
 * snapshot; `l1Ttl`, the call's (else the option's).
 */
export interface L1Fill {
  epoch: number
  now: number
  lruStart?: number | undefined
  l1Ttl?: number | undefined
}

/** What {@link readEntry} read: the entry if usable, and the versions read with it. */
export interface EntryRead {
  /** Fresh (filled into L1) or stale (a grace fallback); undefined when absent, invalid or unreadable. */
  hit: L2Candidate | undefined
  generation: number
  /** Versions of the requested tags, aligned with them. */
  requested: number[]
}

const NO_VERSIONS: readonly number[] = Object.freeze([])

/**
 * The single-key L2 read of `getOrSet`, `get`, `has` and lease waiters, without a script: ONE
 * MGET of the entry, the generation and `requestedTags` (the caller's tags, or the tags the
 * key's L1 record had), then the entry checked by {@link fromL2}. Returns the versions read
 * too (generation, then `requestedTags`). Requires `stack.l2`.
 */
export async function readEntry(
  stack: CacheStack,
  key: string,
  entryKey: string,
  requestedTags: readonly string[],
  l1Ttl: number,
): Promise<EntryRead> {
  // The demotion count before the MGET is sent (see L1Fill).
  const epoch = stack.demotions
  const reply = await (stack.l2 as RedisTier).readOne(entryKey, requestedTags)
  stack.observe(GENERATION_SUFFIX, reply.generation)
  for (let i = 0; i < requestedTags.length; i++)
    stack.observe(requestedTags[i] as string, reply.requested[i] ?? 0)
  const envelope = reply.bytes === null ? undefined : decode(stack, key, reply.bytes)
  if (envelope === undefined)
    return { hit: undefined, generation: reply.generation, requested: reply.requested }
  // No await unless the header names a tag the caller did not: an untagged entry, or one whose
  // tags were all read with it, is checked in the same microtask as the reply.
  let versions = entryTagVersions(envelope.tags, requestedTags, reply.requested)
  if (!Array.isArray(versions))
    versions = await missingTagVersions(stack, envelope.tags, versions as PartialVersions)
  const fill: L1Fill = { epoch, now: Date.now(), l1Ttl }
  const hit = fromL2(stack, key, reply.bytes as Buffer, reply.generation, versions, fill, envelope)
  return { hit, generation: reply.generation, requested: reply.requested }
}

/** Versions of an entry's header tags that were read with it: all of them, or what a second MGET must fill. */
interface PartialVersions {
  /** Aligned with the header tags; `undefined` where the caller did not name the tag. */
  known: Array<number | undefined>
}

/**
 * Versions of the tags in an entry's header, aligned with them, from the versions read with it
 * when the caller named the same tags (the usual case); else what is known so far, for
 * {@link missingTagVersions} to complete with one more MGET.
 */
function entryTagVersions(
  tags: readonly string[],
  requestedTags: readonly string[],
  requested: readonly number[],
): readonly number[] | PartialVersions {
  if (tags.length === 0) return NO_VERSIONS
  const out = new Array<number | undefined>(tags.length)
  let complete = true
  for (let i = 0; i < tags.length; i++) {
    const at = requestedTags.indexOf(tags[i] as string)
    if (at >= 0) out[i] = requested[at] as number
    else complete = false
  }
  return complete ? (out as number[]) : { known: out }
}

/** {@link entryTagVersions}'s partial answer completed with ONE MGET of the tags it lacks. */
async function missingTagVersions(
  stack: CacheStack,
  tags: readonly string[],
  partial: PartialVersions,
): Promise<readonly number[]> {
  const out = partial.known
  const missing: string[] = []
  for (let i = 0; i < tags.length; i++) if (out[i] === undefined) missing.push(tags[i] as string)
  const fetched = await (stack.l2 as RedisTier).versions(missing)
  for (let i = 0, j = 0; i < tags.length; i++) if (out[i] === undefined) out[i] = fetched[j++] ?? 0
  return out as number[]
}

/**
 * The j-th entry of a multi-key L2 read when it is present and fresh (filled into L1), else
 * undefined. `fill`: the read's, built once by the caller for all its entries.
 */
export function freshFromRead(
  stack: CacheStack,
  key: string,
  read: ReadResult,
  j: number,
  fill: L1Fill,
): Candidate | undefined {
  const entry = read.entries[j]
  const hit = entry?.bytes
    ? fromL2(stack, key, entry.bytes, read.generation, entry.versions, fill)
    : undefined
  return hit?.fresh ? hit : undefined
}

/**
 * Decode an L2 entry and check its snapshot against the versions read with it. A fresh entry
 * fills L1 as `fill` says (stale if the bus went down or came back since the read was sent: a
 * notice replacing it may have been lost); a stale one (soft-bumped tag, or past freshness within
 * grace) is returned as a fallback candidate; an invalid, foreign or corrupt one is a miss.
 */
export function fromL2(
  stack: CacheStack,
  key: string,
  bytes: Buffer,
  generation: number,
  tagVersions: readonly number[],
  fill: L1Fill,
  decoded?: Envelope,
): L2Candidate | undefined {
  const now = fill.now
  const envelope = decoded ?? decode(stack, key, bytes)
  if (envelope === undefined) return undefined
  let state: number = compareVersion(envelope.versions[0] as number, generation)
  for (let i = 0; i < envelope.tags.length && state !== VersionState.Invalid; i++) {
    const current = tagVersions[i] ?? 0
    stack.observe(envelope.tags[i] as string, current)
    const s = compareVersion(envelope.versions[i + 1] as number, current)
    if (s > state) state = s
  }
  if (state === VersionState.Invalid) return undefined
  if (state === VersionState.Fresh && envelope.freshUntil > now) {
    stack.counters.l2Hits++
    if (channels.hit.hasSubscribers)
      channels.hit.publish({ namespace: stack.options.namespace, key, tier: 'l2' })
    const l1Ttl = fill.l1Ttl ?? stack.options.l1Ttl
    const value = toL1(stack, key, envelope, bytes.length, l1Ttl, now, fill.lruStart, fill.epoch)
    return {
      value: stack.clone ? structuredClone(value) : value,
      staleUntil: envelope.staleUntil,
      fresh: true,
    }
  }
  if (envelope.staleUntil > now)
    return { value: envelope.value, staleUntil: envelope.staleUntil, fresh: false }
  return undefined
}
