/**
 * Names of the `node:diagnostics_channel` channels `@ayala/cache` publishes to. They are part of
 * that package's public contract (its `CACHE_CHANNELS`); they are repeated here so that the
 * metrics entry point works without loading `@ayala/cache` (a unit test keeps both in step).
 */
export const CACHE_CHANNEL_NAMES = Object.freeze({
  /** `{ namespace, key, tier: 'l1' | 'l2' }` */
  hit: 'ayala:cache:hit',
  /** `{ namespace, key }`: missed both tiers. */
  miss: 'ayala:cache:miss',
  /** `{ namespace, key, reason }`: a stale value was served. */
  stale: 'ayala:cache:stale',
  /** `{ namespace, key }`: a caller joined a load already in flight. */
  coalesced: 'ayala:cache:coalesced',
})
