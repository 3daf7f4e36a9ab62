/**
 * `getOrSetMany`: many keys, one L2 round trip, ONE batch loader call.
 *
 * L1 first (every fresh record served), then keys already being loaded are joined (their
 * flights), then the rest register flights of their own BEFORE the read, so that concurrent
 * single-key calls join this batch. One read script returns the entries with their tags'
 * versions and the versions of the tags the batch is about to snapshot; ONE `batchLoader` call
 * takes what is still missing, and the values are written back in one pipelined round trip, each
 * with the snapshot read before the loader ran (the refill race, as for one key).
 *
 * `refresh` skips both reads (one MGET of the versions to snapshot) and loads every key not
 * already being loaded, then tells the other instances to drop their copies; an entry whose new
 * value is not to be stored is deleted. `bypass` is one `batchLoader` call and nothing else.
 * A failing batch rejects its own flights (their joiners get the error) and the caller.
 */

import { publishDrop } from '../bus/coherence.js'
import type { CacheStack, Flight } from '../cache-stack.js'
import { resolveCallOptions, tagSuffixesOf } from '../call-options.js'
import { check, type EntryWrite, FRESH, prepare } from '../entries/entry.js'
import { InvalidOptionError, L2UnavailableError } from '../errors.js'
import { GENERATION_SUFFIX } from '../keys.js'
import type { SetManyOptions } from '../options.js'
import { freshFromRead, type L1Fill } from '../read/read-entry.js'
import { KeyEffect } from '../recovery/pending-invalidations.js'
import { type BatchLoader, callBatchLoader } from './loader-runner.js'

/** See the module note and `Cache.getOrSetMany`. */
export async function getOrSetMany<T>(
  stack: CacheStack,
  keys: readonly string[],
  batchLoader: BatchLoader<T>,
  options?: SetManyOptions,
): Promise<T[]> {
  stack.assertOpen()
  const refresh = options?.refresh === true
  if (options?.bypass === true) {
    if (refresh) throw new InvalidOptionError('bypass', 'cannot be combined with refresh')
    const result = await callBatchLoader(stack, keys, batchLoader)
    return keys.map((key, k) => (result instanceof Map ? result.get(key) : (result as readonly T[])[k]) as T)
  }
  const tagsOf = options?.tags
  const base = resolveCallOptions(
    stack.defaults,
    options === undefined ? undefined : { ...options, tags: undefined },
  )
  const out = new Array<T>(keys.length).fill(undefined as T)
  const missing: number[] = []
  const joined: Array<Promise<void>> = []
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    const record = refresh ? undefined : stack.l1.get(key)
    if (record !== undefined && check(stack, record, key) === FRESH) {
      stack.l1Hit(key)
      out[i] = stack.out(record) as T
      continue
    }
    const flight = stack.joinable(key)
    // A refresh joins only a load that cannot answer from the cache (see Flight.loading).
    if (flight !== undefined && (!refresh || flight.loading)) {
      stack.counters.coalesced++
      joined.push(
        flight.promise.then((value) => {
          out[i] = value as T
        }),
      )
      continue
    }
    missing.push(i)
  }
  if (missing.length > 0) {
    const perKeyTags = missing.map((i) => tagSuffixesOf(tagsOf, keys[i] as string))
    const requested = [...new Set(perKeyTags.flatMap((t) => t.slice(1)))]
    const snapshotOf = (tagSuffixes: readonly string[], versions: Map<string, number>): number[] =>
      tagSuffixes.map((s) => versions.get(s) ?? stack.tags.get(s))
    const versions = new Map<string, number>()
    const toLoad: number[] = []
    // The demotion count before anything is read: an entry read from L2 fills L1 stale if the bus
    // went down or came back meanwhile (entries/entry.ts toL1); a load is stored only if its
    // flight was not invalidated, which a demotion does (bus/coherence.ts onBusState).
    const epoch = stack.demotions
    // Register flights first so that concurrent single-key calls join this batch.
    const settle = new Map<string, { resolve(v: unknown): void; reject(e: unknown): void; flight: Flight }>()
    for (let j = 0; j < missing.length; j++) {
      const key = keys[missing[j] as number] as string
      let resolve!: (v: unknown) => void
      let reject!: (e: unknown) => void
      const promise = new Promise<unknown>((res, rej) => {
        resolve = res
        reject = rej
      })
      promise.catch(stack.swallowFlightError)
      const flight: Flight = { ...stack.flight(perKeyTags[j] as readonly string[], refresh), promise }
      stack.flights.set(key, flight)
      settle.set(key, { resolve, reject, flight })
    }
    try {
      if (stack.l2 !== undefined && refresh) {
        // No read: only the versions to snapshot (local ones if Redis is unavailable).
        const suffixes = [GENERATION_SUFFIX, ...requested]
        try {
          const current = await stack.l2.versions(suffixes)
          suffixes.forEach((s, k) => {
            const v = current[k] ?? 0
            versions.set(s, v)
            stack.observe(s, v)
          })
        } catch (error) {
          if (!(error instanceof L2UnavailableError)) throw error
        }
        for (let j = 0; j < missing.length; j++) toLoad.push(j)
      } else if (stack.l2 !== undefined) {
        try {
          const read = await stack.l2.read(
            missing.map((i) => stack.keys.entry(keys[i] as string)),
            requested,
          )
          versions.set(GENERATION_SUFFIX, read.generation)
          stack.observe(GENERATION_SUFFIX, read.generation)
          requested.forEach((s, k) => {
            const v = read.requested[k] ?? 0
            versions.set(s, v)
            stack.observe(s, v)
          })
          const fill: L1Fill = { epoch, now: Date.now(), lruStart: performance.now() }
          for (let j = 0; j < missing.length; j++) {
            const i = missing[j] as number
            const key = keys[i] as string
            const hit = freshFromRead(stack, key, read, j, fill)
            if (hit !== undefined) {
              out[i] = hit.value as T
              settle.get(key)?.resolve(hit.value)
            } else toLoad.push(j)
          }
        } catch (error) {
          if (!(error instanceof L2UnavailableError)) throw error
          for (let j = 0; j < missing.length; j++) toLoad.push(j)
        }
      } else {
        for (let j = 0; j < missing.length; j++) toLoad.push(j)
      }
      // What each value will be valid for (the server's versions, read before the loader).
      for (let j = 0; j < missing.length; j++) {
        const pending = settle.get(keys[missing[j] as number] as string)
        if (pending !== undefined)
          pending.flight.versions = snapshotOf(perKeyTags[j] as readonly string[], versions)
      }
      if (toLoad.length > 0) {
        const loadKeys = toLoad.map((j) => keys[missing[j] as number] as string)
        if (!refresh) stack.counters.misses += loadKeys.length
        for (const key of loadKeys) {
          const pending = settle.get(key)
          if (pending !== undefined) pending.flight.loading = true
        }
        const result = await callBatchLoader(stack, loadKeys, batchLoader)
        const writes: EntryWrite[] = []
        const dropped: string[] = []
        const droppedKeys: string[] = []
        const announced: string[] = []
        for (let k = 0; k < toLoad.length; k++) {
          const j = toLoad[k] as number
          const i = missing[j] as number
          const key = keys[i] as string
          const value = result instanceof Map ? result.get(key) : (result as readonly T[])[k]
          out[i] = value as T
          const pending = settle.get(key)
          pending?.resolve(value)
          if (pending?.flight.invalidated) continue
          const tagSuffixes = perKeyTags[j] as readonly string[]
          const write = prepare(
            stack,
            key,
            value,
            { ...base, tagSuffixes },
            snapshotOf(tagSuffixes, versions),
          )
          if (write !== undefined) writes.push(write)
          else if (refresh) {
            dropped.push(stack.keys.entry(key))
            droppedKeys.push(key)
          }
          if (refresh) announced.push(key)
        }
        if (writes.length > 0 && stack.l2 !== undefined) {
          try {
            await stack.l2.writeMany(writes)
          } catch (error) {
            // A refresh's new values must replace the old ones: keep their removal for a replay.
            if (refresh) stack.keep(error, announced, KeyEffect.Delete)
            else stack.tolerate(error)
          }
        }
        if (dropped.length > 0 && stack.l2 !== undefined) {
          try {
            await stack.l2.delete(dropped)
          } catch (error) {
            stack.keep(error, droppedKeys, KeyEffect.Delete)
          }
        }
        if (announced.length > 0) publishDrop(stack, announced)
      }
    } catch (error) {
      for (const { reject } of settle.values()) reject(error)
      throw error
    } finally {
      for (const [key, { flight }] of settle) if (stack.flights.get(key) === flight) stack.flights.delete(key)
    }
  }
  if (joined.length > 0) await Promise.all(joined)
  return out
}
