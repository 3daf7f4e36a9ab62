/**
 * `set`: a value written to both tiers, and every other instance told to drop its L1 copy.
 *
 * The entry's snapshot is the versions of its tags read from Redis now (one MGET, the generation
 * included; the local ones when Redis is unavailable), so an invalidation racing the write wins.
 * Without tags, the generation this instance knows, read from Redis first if it never saw one.
 * An entry with nothing for L2 (not cached, or a snapshot this instance never saw from Redis:
 * entries/entry.ts) deletes the old L2 entry instead.
 * A load of the same key running meanwhile stores nothing (its value is older than this one).
 * When the new value does not reach L2 the old one would stay there: its removal is kept for a
 * replay (recovery/), as is a drop notice that could not be sent.
 */
import { publishDrop } from '../bus/coherence.js'
import type { CacheStack } from '../cache-stack.js'
import { resolveCallOptions } from '../call-options.js'
import { observed, prepare } from '../entries/entry.js'
import { L2UnavailableError } from '../errors.js'
import type { SetOptions } from '../options.js'
import { KeyEffect } from '../recovery/pending-invalidations.js'

/** See the module note and `Cache.set`. */
export async function set(
  stack: CacheStack,
  key: string,
  value: unknown,
  options?: SetOptions,
): Promise<void> {
  stack.assertOpen()
  const call = resolveCallOptions(stack.defaults, options)
  stack.invalidateFlight(key)
  let snapshot: number[]
  // Tags, or a generation this instance never read: the versions from Redis. Else the one it knows.
  if (stack.l2 !== undefined && (call.tagSuffixes.length > 1 || !observed(stack, call.tagSuffixes))) {
    try {
      // One MGET of the generation and the tags (all in the namespace's slot: valid on a cluster).
      snapshot = await stack.l2.versions(call.tagSuffixes)
      stack.observeAll(call.tagSuffixes, snapshot)
    } catch (error) {
      if (!(error instanceof L2UnavailableError)) throw error
      snapshot = stack.tags.snapshot(call.tagSuffixes)
    }
  } else {
    snapshot = stack.tags.snapshot(call.tagSuffixes)
  }
  const write = prepare(stack, key, value, call, snapshot)
  if (stack.l2 !== undefined) {
    try {
      // Nothing to store in L2 (a negative value not cached, an unobserved snapshot): the old
      // value must not stay there either.
      if (write !== undefined) await stack.l2.write(write.key, write.bytes, write.ttlMs)
      else await stack.l2.delete([stack.keys.entry(key)])
    } catch (error) {
      // The old value would stay in L2: keep its removal for a replay.
      stack.keep(error, [key], KeyEffect.Delete)
    }
  }
  publishDrop(stack, [key])
}
