/**
 * Per-call options, resolved by one rule: call > instance (`createCache`) > package default.
 *
 * A call without options costs nothing: it uses the instance's frozen {@link CallOptions}
 * ({@link callDefaults}, built once). A call with options parses its durations and builds one
 * object. Options prepared once ({@link prepareSetOptions}: what the decorators keep when they
 * are applied) are not parsed again: their overrides are already milliseconds, and without
 * per-call tags they resolve to the same frozen object on every call.
 */

import { toMilliseconds } from './duration.js'
import { InvalidOptionError } from './errors.js'
import { GENERATION_ONLY, GENERATION_SUFFIX, tagSuffix } from './keys.js'
import {
  durationOrOff,
  type InvalidateOptions,
  type InvalidationOptions,
  type ResolvedCacheOptions,
  type SetManyOptions,
  type SetOptions,
} from './options.js'

/** A call's options resolved against the instance's: milliseconds, `0` for off. Internal. */
export interface CallOptions {
  readonly ttl: number
  readonly l1Ttl: number
  readonly grace: number
  readonly softTimeout: number
  readonly hardTimeout: number
  readonly lease: boolean
  /** Tag suffixes, the generation first. */
  readonly tagSuffixes: readonly string[]
}

/** The instance's {@link CallOptions}: what a call without options uses (frozen, shared). */
export function callDefaults(o: ResolvedCacheOptions): CallOptions {
  return Object.freeze({
    ttl: o.ttl,
    l1Ttl: o.l1Ttl,
    grace: o.grace,
    softTimeout: o.softTimeout,
    hardTimeout: o.hardTimeout,
    lease: o.lease,
    tagSuffixes: GENERATION_ONLY,
  })
}

/** Tag suffixes of an entry, the generation first (`tags` a list, or a function of the key). */
export function tagSuffixesOf(tags: SetManyOptions['tags'], key: string): readonly string[] {
  const list = typeof tags === 'function' ? tags(key) : tags
  if (list === undefined || list.length === 0) return GENERATION_ONLY
  return [GENERATION_SUFFIX, ...list.map(tagSuffix)]
}

/** The overrides of a {@link SetOptions} object, parsed (absent: the instance's value). */
interface Overrides {
  ttl: number | undefined
  l1Ttl: number | undefined
  grace: number | undefined
  softTimeout: number | undefined
  hardTimeout: number | undefined
  lease: boolean | undefined
}

function parseOverrides(options: SetOptions): Overrides {
  return {
    ttl: options.ttl === undefined ? undefined : toMilliseconds(options.ttl, 'ttl'),
    l1Ttl: options.l1Ttl === undefined ? undefined : toMilliseconds(options.l1Ttl, 'l1Ttl'),
    grace: options.grace === undefined ? undefined : durationOrOff(options.grace, 'grace'),
    softTimeout:
      options.softTimeout === undefined ? undefined : durationOrOff(options.softTimeout, 'softTimeout'),
    hardTimeout:
      options.hardTimeout === undefined ? undefined : durationOrOff(options.hardTimeout, 'hardTimeout'),
    lease: options.lease,
  }
}

function apply(d: CallOptions, p: Overrides, tagSuffixes: readonly string[]): CallOptions {
  return {
    ttl: p.ttl ?? d.ttl,
    l1Ttl: p.l1Ttl ?? d.l1Ttl,
    grace: p.grace ?? d.grace,
    softTimeout: p.softTimeout ?? d.softTimeout,
    hardTimeout: p.hardTimeout ?? d.hardTimeout,
    lease: p.lease ?? d.lease,
    tagSuffixes,
  }
}

function checkTags(tags: unknown): void {
  if (tags !== undefined && !Array.isArray(tags))
    throw new InvalidOptionError('tags', 'expected an array of strings')
}

/** Where {@link prepareSetOptions} keeps the parsed overrides on the options object. */
const PREPARED: unique symbol = Symbol('@ayala/cache.prepared')

/**
 * Overrides parsed once, with the last resolution kept: a decorated method usually serves one
 * cache, so its static options resolve to the same frozen {@link CallOptions} on every call
 * (no parse, no allocation). Another cache's defaults simply replace the kept one.
 */
class Prepared {
  private defaults: CallOptions | undefined = undefined
  private resolved: CallOptions | undefined = undefined
  constructor(private readonly overrides: Overrides) {}

  resolve(d: CallOptions, tags: readonly string[] | undefined): CallOptions {
    if (tags !== undefined) {
      checkTags(tags)
      return apply(d, this.overrides, tagSuffixesOf(tags, ''))
    }
    if (this.defaults !== d || this.resolved === undefined) {
      this.resolved = Object.freeze(apply(d, this.overrides, d.tagSuffixes))
      this.defaults = d
    }
    return this.resolved
  }
}

/** {@link SetOptions} parsed by {@link prepareSetOptions}. */
export type PreparedSetOptions = SetOptions & { readonly [PREPARED]: Prepared }

/**
 * Parse and validate `options` once (a decorator does it when it is applied): the result is a
 * frozen {@link SetOptions} whose durations are already milliseconds and whose overrides
 * {@link resolveCallOptions} takes as they are. Throws like a call would (`InvalidOptionError`,
 * `E_CACHE_INVALID_DURATION`), naming the option.
 */
export function prepareSetOptions(options: SetOptions): PreparedSetOptions {
  checkTags(options.tags)
  const overrides = parseOverrides(options)
  const out: Record<string | symbol, unknown> = {}
  for (const name of ['ttl', 'l1Ttl', 'grace', 'softTimeout', 'hardTimeout', 'lease'] as const)
    if (overrides[name] !== undefined) out[name] = overrides[name]
  if (options.tags !== undefined) out.tags = Object.freeze([...options.tags])
  out[PREPARED] = new Prepared(overrides)
  return Object.freeze(out) as unknown as PreparedSetOptions
}

/** `prepared` with per-call `tags` (a decorator's tags built from the arguments): one object, nothing parsed. */
export function withTags(prepared: PreparedSetOptions, tags: readonly string[]): PreparedSetOptions {
  return { ...prepared, tags }
}

/** A call's options: call > instance > default (`d`, the instance's {@link callDefaults}). */
export function resolveCallOptions(d: CallOptions, options: SetOptions | undefined): CallOptions {
  if (options === undefined) return d
  const prepared = (options as Partial<PreparedSetOptions>)[PREPARED]
  if (prepared !== undefined) return prepared.resolve(d, options.tags)
  checkTags(options.tags)
  return apply(d, parseOverrides(options), tagSuffixesOf(options.tags, ''))
}

/**
 * How long an invalidation waits for its peers' confirmations (ms), or `-1` when it does not
 * (`awaitPeers`): call > instance > default for the deadline. Refused with `bus: false`, and on
 * Redis Cluster, where PUBLISH counts only one node's subscribers (bus/peer-acks.ts).
 */
export function peerAckWait(
  instance: ResolvedCacheOptions,
  options: InvalidationOptions | undefined,
  bus: 'l1' | 'off' | 'redis' | 'cluster',
): number {
  const wanted = options?.awaitPeers
  if (wanted === undefined || wanted === false) return -1
  if (wanted !== true) throw new InvalidOptionError('awaitPeers', `expected a boolean, got ${String(wanted)}`)
  if (bus === 'cluster')
    throw new InvalidOptionError(
      'awaitPeers',
      'not on Redis Cluster: PUBLISH counts only the subscribers of one node',
    )
  if (bus === 'off') throw new InvalidOptionError('awaitPeers', 'needs the bus (bus: true)')
  const timeout = options?.peerAckTimeout
  return timeout === undefined ? instance.peerAckTimeout : toMilliseconds(timeout, 'peerAckTimeout')
}

/** Whether an invalidation that did not reach Redis rejects: call > instance > default. */
export function rejectsWhenUnreached(
  instance: ResolvedCacheOptions,
  options: InvalidationOptions | undefined,
): boolean {
  const outcome = options?.onL2Unavailable
  if (outcome === undefined) return instance.onL2Unavailable === 'reject'
  if (outcome !== 'resolve' && outcome !== 'reject')
    throw new InvalidOptionError('onL2Unavailable', `expected 'resolve' or 'reject', got ${String(outcome)}`)
  return outcome === 'reject'
}

/** The tag version step of an `invalidateTags` call's `mode`: hard for `'delete'`, 1 for `'expire'`. */
export function invalidateMode(options: InvalidateOptions | undefined): 'delete' | 'expire' {
  const mode = options?.mode ?? 'delete'
  if (mode !== 'delete' && mode !== 'expire')
    throw new InvalidOptionError('mode', `expected 'delete' or 'expire'`)
  return mode
}
