/**
 * Invalidation: `delete`, `expire`, `invalidateTags` (`expireTags`) and `clear`, on every
 * instance, without clocks.
 *
 * Keys. `delete` removes the entries from L1, L2 and (by a bus notice `d`) every instance's L1;
 * `expire` demotes them to stale instead (kept as a grace fallback): in L1, in L2 by a
 * compare-and-set that keeps the TTL (tiers/redis-tier.ts `demoteEntry`, a concurrent write
 * wins), and by a bus notice `x`. A load of the key running meanwhile stores nothing.
 *
 * Tags. `invalidateTags` is one atomic `INCRBY` per tag on the server (one script): `HARD_STEP`
 * makes the tagged entries unusable, `expireTags` adds 1 (stale but servable). The new versions
 * go out on the bus; entries loading meanwhile carry the old versions in their snapshot and are
 * stored stale (tags/tag-versions.ts). Idempotent in effect (versions only rise). `clear` bumps
 * the namespace generation, an implicit tag of every entry: O(1) on Redis and Redis Cluster.
 *
 * Peers. With `awaitPeers: true` the call resolves once every live instance confirmed it
 * applied the notice to its L1 (or `peerAckTimeout` passed), with a `PeerAcknowledgement`
 * (bus/peer-acks.ts); without it, as soon as the notice is published.
 *
 * Failure. An invalidation must not be lost: it applies to this instance at once and, when Redis
 * (or the bus notice) cannot be reached, is kept for a replay as soon as Redis answers, before
 * this instance reads L2 again (recovery/auto-recovery.ts); the call resolves, or rejects with
 * `L2UnavailableError` under `onL2Unavailable: 'reject'` (call > instance > default). Without
 * Redis, the local tag table is the truth.
 */
import { Cluster } from 'ioredis'
import type { BusMessage } from '../bus/bus.js'
import { NOT_SENT, publishAwaited, publishStrict } from '../bus/coherence.js'
import type { PeerAcknowledgement } from '../bus/peer-acks.js'
import type { CacheStack } from '../cache-stack.js'
import { invalidateMode, peerAckWait, rejectsWhenUnreached } from '../call-options.js'
import { demote, demotedBytes } from '../entries/entry.js'
import { L2UnavailableError } from '../errors.js'
import { GENERATION_SUFFIX, tagSuffix } from '../keys.js'
import type { InvalidateOptions, InvalidationOptions } from '../options.js'
import { KeyEffect } from '../recovery/pending-invalidations.js'
import { HARD_STEP } from '../tags/tag-versions.js'

/** What an invalidation resolves with: `undefined` unless it awaited its peers. */
export type Acknowledged = PeerAcknowledgement | undefined

/** The result without Redis: no other instance shares this L1-only cache. */
const NO_PEERS: PeerAcknowledgement = Object.freeze({ ...NOT_SENT, sent: true })

/** The peer wait of this call (ms, `-1`: none), validated before anything applies. */
function peerWait(stack: CacheStack, options: InvalidationOptions | undefined): number {
  if (options?.awaitPeers === undefined) return -1
  const l2 = stack.l2
  const kind =
    l2 === undefined
      ? 'l1'
      : stack.bus === undefined
        ? 'off'
        : l2.client instanceof Cluster
          ? 'cluster'
          : 'redis'
  return peerAckWait(stack.options, options, kind)
}

/** Send the notice; with a peer wait, resolve once every receiver confirmed (or the deadline). */
function announce(stack: CacheStack, message: BusMessage, waitMs: number): Promise<Acknowledged> {
  if (waitMs < 0) return publishStrict(stack, message) as Promise<undefined>
  return publishAwaited(stack, message, waitMs)
}

/** The error an invalidation rejects with under `onL2Unavailable: 'reject'` (applied here, kept for a replay). */
function unreached(operation: string, cause: L2UnavailableError): L2UnavailableError {
  return new L2UnavailableError(
    cause.code as 'E_CACHE_L2_UNAVAILABLE',
    `${operation} did not reach Redis (${cause.message}); it applies to this instance and is replayed when Redis answers`,
    cause,
  )
}

/**
 * Remove `key` (or keys) from both tiers and from every instance's L1. Idempotent. Without
 * Redis at hand it applies here at once and is replayed later (see {@link InvalidationOptions}).
 */
export async function del(
  stack: CacheStack,
  keys: string | readonly string[],
  options?: InvalidationOptions,
): Promise<Acknowledged> {
  stack.assertOpen()
  const reject = rejectsWhenUnreached(stack.options, options)
  const wait = peerWait(stack, options)
  const list = typeof keys === 'string' ? [keys] : keys
  if (list.length === 0) return wait < 0 ? undefined : NO_PEERS
  for (const key of list) {
    stack.l1.delete(key)
    stack.invalidateFlight(key)
  }
  if (stack.l2 === undefined) return wait < 0 ? undefined : NO_PEERS
  try {
    await stack.l2.delete(list.map((key) => stack.keys.entry(key)))
    return await announce(stack, { i: stack.instanceId, at: Date.now(), d: [...list] }, wait)
  } catch (error) {
    if (!(error instanceof L2UnavailableError)) throw error
    stack.recovery?.deferKeys([...list], KeyEffect.Delete, error)
    if (reject) throw unreached('delete', error)
    return wait < 0 ? undefined : NOT_SENT
  }
}

/**
 * Make `key` (or keys) stale without removing it: the next read reloads, and the old value is
 * still served as a fallback within grace if the loader fails.
 */
export async function expire(
  stack: CacheStack,
  keys: string | readonly string[],
  options?: InvalidationOptions,
): Promise<Acknowledged> {
  stack.assertOpen()
  const reject = rejectsWhenUnreached(stack.options, options)
  const wait = peerWait(stack, options)
  const list = typeof keys === 'string' ? [keys] : keys
  for (const key of list) demote(stack, key)
  if (stack.l2 === undefined || list.length === 0) return wait < 0 ? undefined : NO_PEERS
  const l2 = stack.l2
  try {
    await Promise.all(
      list.map((key) => l2.demoteEntry(stack.keys.entry(key), (bytes) => demotedBytes(stack, key, bytes))),
    )
    return await announce(stack, { i: stack.instanceId, at: Date.now(), x: [...list] }, wait)
  } catch (error) {
    if (!(error instanceof L2UnavailableError)) throw error
    stack.recovery?.deferKeys([...list], KeyEffect.Expire, error)
    if (reject) throw unreached('expire', error)
    return wait < 0 ? undefined : NOT_SENT
  }
}

/**
 * Invalidate every entry that carries one of `tags`, on every instance: one atomic `INCRBY`
 * per tag on the server (in one script). Entries loading while this runs are stored stale.
 * Idempotent in effect (versions only rise). Without Redis at hand the bump applies here at
 * once and is replayed later (see {@link InvalidationOptions}).
 */
export async function invalidateTags(
  stack: CacheStack,
  tags: readonly string[],
  options?: InvalidateOptions,
): Promise<Acknowledged> {
  stack.assertOpen()
  const reject = rejectsWhenUnreached(stack.options, options)
  const wait = peerWait(stack, options)
  const none = wait < 0 ? undefined : NO_PEERS
  if (tags.length === 0) return none
  const step = invalidateMode(options) === 'delete' ? HARD_STEP : 1
  const suffixes = [...new Set(tags.map(tagSuffix))]
  if (stack.l2 === undefined) {
    for (const s of suffixes) stack.tags.bump(s, step)
    stack.seq++
    return none
  }
  let versions: number[]
  try {
    versions = await stack.l2.bump(
      suffixes.map((s) => stack.keys.tag(s)),
      step,
    )
  } catch (error) {
    if (!(error instanceof L2UnavailableError)) throw error
    // The bump the server will get at the replay, taken here now (see recovery/pending-invalidations.ts).
    for (const s of suffixes) stack.tags.bump(s, step)
    stack.seq++
    stack.recovery?.deferTags(suffixes, step, error)
    if (reject) throw unreached('invalidateTags', error)
    return wait < 0 ? undefined : NOT_SENT
  }
  stack.observeAll(suffixes, versions)
  try {
    const message: BusMessage = {
      i: stack.instanceId,
      at: Date.now(),
      t: suffixes.map((s, k) => [s, versions[k] ?? 0]),
    }
    return await announce(stack, message, wait)
  } catch (error) {
    if (!(error instanceof L2UnavailableError)) throw error
    stack.recovery?.deferTags(suffixes, 0, error)
    if (reject) throw unreached('invalidateTags', error)
    return wait < 0 ? undefined : NOT_SENT
  }
}

/**
 * Invalidate every entry of the namespace, in every instance: bumps the namespace generation
 * (an implicit tag of every entry), which is O(1) on Redis and Redis Cluster alike. Old entries
 * then expire by their TTL.
 */
export async function clear(stack: CacheStack, options?: InvalidationOptions): Promise<Acknowledged> {
  stack.assertOpen()
  const reject = rejectsWhenUnreached(stack.options, options)
  const wait = peerWait(stack, options)
  stack.l1.clear()
  stack.invalidateFlights()
  if (stack.l2 === undefined) {
    stack.tags.bump(GENERATION_SUFFIX, HARD_STEP)
    stack.seq++
    return wait < 0 ? undefined : NO_PEERS
  }
  let generation: number | undefined
  try {
    ;[generation] = await stack.l2.bump([stack.keys.generation], HARD_STEP)
  } catch (error) {
    if (!(error instanceof L2UnavailableError)) throw error
    stack.tags.bump(GENERATION_SUFFIX, HARD_STEP)
    stack.seq++
    stack.recovery?.deferClear(HARD_STEP, error)
    if (reject) throw unreached('clear', error)
    return wait < 0 ? undefined : NOT_SENT
  }
  stack.observe(GENERATION_SUFFIX, generation ?? 0)
  try {
    const message: BusMessage = {
      i: stack.instanceId,
      at: Date.now(),
      c: 1,
      t: [[GENERATION_SUFFIX, generation ?? 0]],
    }
    return await announce(stack, message, wait)
  } catch (error) {
    if (!(error instanceof L2UnavailableError)) throw error
    stack.recovery?.deferClear(0, error)
    if (reject) throw unreached('clear', error)
    return wait < 0 ? undefined : NOT_SENT
  }
}

/**
 * A replay's bumps reached the server. After an overflow (the pending set became a generation
 * bump) the local table may hold versions the server never got: L1 and the table start over.
 */
export function onReplayed(
  stack: CacheStack,
  suffixes: readonly string[],
  versions: readonly number[],
  overflowed: boolean,
): void {
  if (overflowed) {
    stack.l1.clear()
    stack.tags.clear()
    stack.invalidateFlights()
    stack.seq++
  }
  stack.observeAll(suffixes, versions)
}
