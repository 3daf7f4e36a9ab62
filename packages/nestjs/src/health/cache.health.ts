/**
 * Cache health: what an `@ayala/cache` instance says of itself in `stats()` (no Redis round
 * trip). `degraded` while it holds invalidations that have not reached Redis yet (auto-recovery
 * keeps and replays them) or while it bypasses L2 after a lost link: up by default with
 * `state: 'degraded'` and the reasons in the details (the cache still answers correctly, from L1
 * and the loaders), or down with `failOn: 'degraded'`. Down when the oldest unreplayed
 * invalidation has waited longer than `downAfter`: other instances' copies then diverge for long.
 */
import { Inject, Injectable } from '@nestjs/common'
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus'
import { type Duration, toMilliseconds } from '../duration.js'

/** What the indicator needs of an `@ayala/cache` `Cache` (its `stats()`). */
export interface CacheHealthSource {
  stats(): {
    namespace: string
    degraded: boolean
    pendingInvalidations: number
    oldestPendingMs: number
    l2Held: boolean
    invalidationReplays: number
    pendingOverflows: number
    breaker: string
    busConnected: boolean
  }
}

/** Options of {@link CacheHealthIndicator.check}. */
export interface CacheHealthOptions {
  /** The cache (`@InjectCache()`). */
  cache: CacheHealthSource
  /** Report `degraded` as down too (a readiness probe that sheds traffic meanwhile). @default 'down' */
  failOn?: 'down' | 'degraded' | undefined
  /**
   * Down when the oldest invalidation still waiting for Redis is older than this; `false`:
   * never down for that. @default '1m'
   */
  downAfter?: Duration | false | undefined
}

/** Terminus health indicator for a two-tier cache's auto-recovery state. */
@Injectable()
export class CacheHealthIndicator {
  constructor(@Inject(HealthIndicatorService) private readonly health: HealthIndicatorService) {}

  /** Up (`state: 'up'` or `'degraded'`) unless invalidations wait past `downAfter` (or `failOn`). */
  check<const Key extends string>(
    key: Key,
    options: CacheHealthOptions,
  ): Promise<HealthIndicatorResult<Key>> {
    const failOn = options.failOn ?? 'down'
    const downAfterMs =
      options.downAfter === false
        ? Number.POSITIVE_INFINITY
        : toMilliseconds(options.downAfter ?? '1m', 'downAfter')
    const indicator = this.health.check(key)
    const s = options.cache.stats()
    const reasons: string[] = []
    if (s.pendingInvalidations > 0)
      reasons.push(
        `${s.pendingInvalidations} invalidation(s) wait for Redis (oldest ${Math.round(s.oldestPendingMs)} ms), applied to this instance only`,
      )
    if (s.l2Held && s.pendingInvalidations === 0)
      reasons.push('L2 reads bypassed until peers replay theirs (link lost or recoveryHold)')
    const state = s.degraded || s.l2Held ? 'degraded' : 'up'
    const data = {
      state,
      reasons,
      namespace: s.namespace,
      pendingInvalidations: s.pendingInvalidations,
      oldestPendingMs: s.oldestPendingMs,
      l2Held: s.l2Held,
      invalidationReplays: s.invalidationReplays,
      pendingOverflows: s.pendingOverflows,
      breaker: s.breaker,
      busConnected: s.busConnected,
    }
    if (s.pendingInvalidations > 0 && s.oldestPendingMs > downAfterMs) {
      reasons.push(`the oldest has waited longer than downAfter (${downAfterMs} ms)`)
      return Promise.resolve(indicator.down({ ...data, message: reasons.join('; ') }))
    }
    if (failOn === 'degraded' && state === 'degraded')
      return Promise.resolve(indicator.down({ ...data, message: reasons.join('; ') }))
    return Promise.resolve(indicator.up(data))
  }
}
