/**
 * The invalidations an instance could not deliver to Redis, kept until they are replayed.
 *
 * Deduplicated: one slot per key and one per tag, whatever the number of calls.
 * - A key keeps the strongest effect asked for: drop (`d` on the bus; from `set` and refreshes,
 *   whose new value did not reach L2 or whose notice was not sent) < expire (demote the L2 entry,
 *   `x`) < delete (remove the L2 entry, `d`). The strongest is always correct: an entry deleted
 *   where an expire was asked is reloaded once more, never served stale.
 * - A tag accumulates the steps of its bumps (`HARD_STEP` per `invalidateTags`, 1 per
 *   `expireTags`). The instance bumped its own table by the same steps when the call was made, so
 *   replaying the sum leaves the server at or above the local version (the server was at or above
 *   what this instance had seen, and only rises): entries this instance loaded meanwhile stay
 *   valid when nobody else bumped the tag, and become stale or invalid when someone did.
 *   A step of 0 is a bump already applied on the server whose bus notice is still to be sent.
 * - `clear()` is the generation tag (`g`) plus the `c` flag of its bus notice.
 *
 * Bounded: past `maxItems` slots the whole set collapses into one generation bump (a `clear()`
 * of the namespace, which invalidates every entry any of the dropped slots named) and later
 * additions are absorbed by it. That is still correct, only costlier (every entry of the
 * namespace reloads once), and counted as an overflow.
 */
import { GENERATION_SUFFIX } from '../keys.js'
import { HARD_STEP } from '../tags/tag-versions.js'

/** What a replay does for a key, in increasing strength (see the module note). */
export const KeyEffect = {
  /** Tell the other instances to drop their L1 copy (`d`). */
  Drop: 1,
  /** Demote the L2 entry to stale, tell the others to demote theirs (`x`). */
  Expire: 2,
  /** Remove the L2 entry, tell the others to drop theirs (`d`). */
  Delete: 3,
} as const
/** One of {@link KeyEffect}'s values. */
export type KeyEffect = (typeof KeyEffect)[keyof typeof KeyEffect]

/** See the module note. */
export class PendingInvalidations {
  /** Key -> strongest effect asked for. */
  readonly keys = new Map<string, KeyEffect>()
  /** Tag suffix (the generation is `g`) -> accumulated step; 0: bumped, notice not yet sent. */
  readonly tags = new Map<string, number>()
  /** The bus notice carries `c` (drop all of L1): a `clear()`, or the collapse of an overflow. */
  clear = false
  /** The set collapsed into a generation bump (see the module note). */
  overflowed = false

  constructor(private readonly maxItems: number) {}

  /** Slots held: keys, tags and the generation. */
  get size(): number {
    return this.keys.size + this.tags.size
  }

  /** Keep `effect` for `keys`. Returns true when this collapsed the set (an overflow). */
  addKeys(keys: readonly string[], effect: KeyEffect): boolean {
    if (this.overflowed) return false
    for (const key of keys) {
      const known = this.keys.get(key)
      if (known === undefined || known < effect) this.keys.set(key, effect)
    }
    return this.bound()
  }

  /** Keep a bump of `step` (0: notice only) for each tag suffix. Returns true on an overflow. */
  addTags(suffixes: readonly string[], step: number): boolean {
    if (this.overflowed) return false
    for (const suffix of suffixes) this.tags.set(suffix, (this.tags.get(suffix) ?? 0) + step)
    return this.bound()
  }

  /** Keep a `clear()`: a generation bump of `step` and the `c` flag. Returns true on an overflow. */
  addClear(step: number): boolean {
    if (this.overflowed) return false
    this.clear = true
    return this.addTags([GENERATION_SUFFIX], step)
  }

  /** Fold `other` (a replay batch that failed) back into this set. Returns true on an overflow. */
  absorb(other: PendingInvalidations): boolean {
    if (other.overflowed && !this.overflowed) {
      this.collapse(other.tags.get(GENERATION_SUFFIX) ?? HARD_STEP)
      return true
    }
    if (this.overflowed) return false
    for (const [key, effect] of other.keys) {
      const known = this.keys.get(key)
      if (known === undefined || known < effect) this.keys.set(key, effect)
    }
    for (const [suffix, step] of other.tags) this.tags.set(suffix, (this.tags.get(suffix) ?? 0) + step)
    if (other.clear) this.clear = true
    return this.bound()
  }

  /** A bump that reached the server: only its notice is left to send. */
  markBumped(): void {
    for (const suffix of this.tags.keys()) this.tags.set(suffix, 0)
  }

  private bound(): boolean {
    if (this.size <= this.maxItems) return false
    this.collapse(HARD_STEP)
    return true
  }

  private collapse(generationStep: number): void {
    const step = Math.max(this.tags.get(GENERATION_SUFFIX) ?? 0, generationStep, HARD_STEP)
    this.keys.clear()
    this.tags.clear()
    this.tags.set(GENERATION_SUFFIX, step)
    this.clear = true
    this.overflowed = true
  }
}
