/**
 * Tag versions: how invalidation works without clocks.
 *
 * Each tag has an integer version on the Redis server (`{ns}:t:<tag>`, no TTL, so it never
 * expires before the entries that reference it). One integer carries two kinds of bump:
 * `expireTags` adds 1 (entries become stale but stay usable as a grace fallback) and
 * `invalidateTags` adds {@link HARD_STEP} (entries become unusable). Both are a single `INCRBY`,
 * atomic on the server. An entry stores the versions of its tags read BEFORE its loader ran; it is
 * fresh only while every version is unchanged. So a write that invalidates a tag during a load makes
 * the loaded entry stale the moment it is stored (the refill race), whatever the hosts' clocks say.
 *
 * Each instance keeps the highest version it has seen per tag (from reads, its own invalidations
 * and bus messages) in {@link LocalTagVersions}, and checks L1 entries against it. Without Redis,
 * the same table is the source of truth.
 */

/** The version step of a hard invalidation; smaller steps are soft (expire) bumps. */
export const HARD_STEP = 1_048_576

/** How a current version relates to an entry's snapshot. */
export const VersionState = {
  Fresh: 0,
  /** Soft-bumped since the snapshot: usable as a stale fallback. */
  Expired: 1,
  /** Hard-bumped (or reset) since the snapshot: unusable. */
  Invalid: 2,
} as const
/** One of {@link VersionState}'s values. */
export type VersionState = (typeof VersionState)[keyof typeof VersionState]

/** Compare a snapshot version with the current one. */
export function compareVersion(snapshot: number, current: number): VersionState {
  if (snapshot === current) return VersionState.Fresh
  if (current > snapshot && Math.floor(current / HARD_STEP) === Math.floor(snapshot / HARD_STEP)) {
    return VersionState.Expired
  }
  return VersionState.Invalid
}

/** Compare whole snapshots: the worst state wins. */
export function compareVersions(snapshot: readonly number[], current: readonly number[]): VersionState {
  let state: VersionState = VersionState.Fresh
  for (let i = 0; i < snapshot.length; i++) {
    const s = compareVersion(snapshot[i] as number, current[i] ?? 0)
    if (s > state) state = s
    if (state === VersionState.Invalid) break
  }
  return state
}

/** Highest version seen per tag suffix (the generation is the suffix `g`). */
export class LocalTagVersions {
  private readonly versions = new Map<string, number>()

  constructor(private readonly maxTags = 100_000) {}

  get(suffix: string): number {
    return this.versions.get(suffix) ?? 0
  }

  /** Has this instance seen any version of `suffix`? */
  known(suffix: string): number | undefined {
    return this.versions.get(suffix)
  }

  /**
   * Record a version seen on the server. Returns true when it is higher than what was known.
   * When the table is full it is emptied (what was learnt can be learnt again); the caller must
   * then stop trusting L1 (it does, since this returns true).
   */
  observe(suffix: string, version: number): boolean {
    const known = this.versions.get(suffix)
    if (known !== undefined && known >= version) return false
    if (known === undefined && this.versions.size >= this.maxTags) this.versions.clear()
    this.versions.set(suffix, version)
    return known !== undefined || version > 0
  }

  /** Bump locally (L1-only mode); returns the new version. */
  bump(suffix: string, step: number): number {
    const next = this.get(suffix) + step
    this.versions.set(suffix, next)
    return next
  }

  snapshot(suffixes: readonly string[]): number[] {
    const out = new Array<number>(suffixes.length)
    for (let i = 0; i < suffixes.length; i++) out[i] = this.get(suffixes[i] as string)
    return out
  }

  clear(): void {
    this.versions.clear()
  }
}
