/**
 * Outbox health: the relay's own verdict (`OutboxRelay.health()`), which reads the backlog from
 * the table and adds what the relay saw (a sink failing now, dead letters). `down` is down;
 * `degraded` is up by default with `state: 'degraded'` and its reasons in the details, or down
 * with `failOn: 'degraded'` (for a readiness probe that must shed traffic while copies lag).
 */
import { Inject, Injectable } from '@nestjs/common'
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus'
import { type Duration, toMilliseconds } from '../duration.js'
import { HealthCheckFailedError } from '../errors.js'
import { attempt } from './attempt.js'

/** What the indicator needs of an `@ayala/outbox` `OutboxRelay`. */
export interface OutboxHealthSource {
  health(): Promise<{
    status: 'up' | 'degraded' | 'down'
    reasons: string[]
    sinks: Record<string, { status: string; pending: number; dead: number; oldestAgeMs: number | null }>
  }>
}

/** Options of {@link OutboxHealthIndicator.check}. */
export interface OutboxHealthOptions {
  /** The relay (`@InjectOutboxRelay()`). */
  relay: OutboxHealthSource
  /** Report `degraded` as down too. @default 'down' */
  failOn?: 'down' | 'degraded' | undefined
  /** Deadline of the check. @default '2s' */
  timeout?: Duration | undefined
}

/** Terminus health indicator for the transactional outbox. */
@Injectable()
export class OutboxHealthIndicator {
  constructor(@Inject(HealthIndicatorService) private readonly health: HealthIndicatorService) {}

  /** Up when every sink delivers; down when the relay says `down` (or `degraded` with `failOn`). */
  check<const Key extends string>(
    key: Key,
    options: OutboxHealthOptions,
  ): Promise<HealthIndicatorResult<Key>> {
    const timeoutMs = toMilliseconds(options.timeout ?? '2s', 'timeout')
    const failOn = options.failOn ?? 'down'
    return attempt(
      this.health,
      key,
      async () => {
        const health = await options.relay.health()
        const sinks: Record<
          string,
          { state: string; pending: number; dead: number; oldestAgeMs: number | null }
        > = {}
        for (const [name, sink] of Object.entries(health.sinks)) {
          sinks[name] = {
            state: sink.status,
            pending: sink.pending,
            dead: sink.dead,
            oldestAgeMs: sink.oldestAgeMs,
          }
        }
        if (health.status === 'down' || (failOn === 'degraded' && health.status === 'degraded')) {
          throw new HealthCheckFailedError(key, health.reasons.join('; ') || health.status)
        }
        return { state: health.status, reasons: health.reasons, sinks }
      },
      timeoutMs,
    )
  }
}
