/**
 * Dashboard aggregates health: the verdict of `@ayala/metrics-stream`'s consumer or dashboard
 * (`health()`), a list of reasons where the worst wins. `down` (the view's state is missing in
 * Redis, the topic lost events the figures need, the source cannot decode a batch) is down, with
 * the reasons' codes in the message; `degraded` (the view is being rebuilt from the topic, the
 * consumer cannot reach Redis for a moment) is up by default with `state: 'degraded'`, the reasons,
 * `viewStatus` and the rebuild's `progress` in the details, or down with `failOn: 'degraded'` (a readiness probe
 * that must not route dashboard traffic to partial figures).
 */
import { Inject, Injectable } from '@nestjs/common'
import { type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus'
import { type Duration, toMilliseconds } from '../duration.js'
import { HealthCheckFailedError, InvalidOptionError } from '../errors.js'
import { attempt } from './attempt.js'

/**
 * What the indicator needs of an `@ayala/metrics-stream` `MetricsConsumer` or `Dashboard`: its
 * `health()`.
 */
export interface MetricsStreamHealthSource {
  health(): Promise<{
    state: 'up' | 'degraded' | 'down'
    reasons: ReadonlyArray<{ code: string; state: string; message: string; since: number }>
    view?:
      | {
          status: string
          generation: number
          epoch: string
          version: number
          progress?: { records: number; applied: number; ratio: number } | undefined
        }
      | undefined
  }>
}

/** Options of {@link MetricsStreamHealthIndicator.check}. */
export interface MetricsStreamHealthOptions {
  /** The consumer (`@InjectMetricsConsumer()`) or the dashboard (`@InjectDashboard()`). */
  source: MetricsStreamHealthSource
  /** Report `degraded` (a rebuild under way) as down too. @default 'down' */
  failOn?: 'down' | 'degraded' | undefined
  /** Deadline of the check. @default '2s' */
  timeout?: Duration | undefined
}

/** Terminus health indicator for `@ayala/metrics-stream` views. */
@Injectable()
export class MetricsStreamHealthIndicator {
  constructor(@Inject(HealthIndicatorService) private readonly health: HealthIndicatorService) {}

  /**
   * Up when the view is live (or rebuilding, unless `failOn: 'degraded'`), down otherwise with
   * `<code>: <message>` of every reason.
   */
  check<const Key extends string>(
    key: Key,
    options: MetricsStreamHealthOptions,
  ): Promise<HealthIndicatorResult<Key>> {
    if (typeof options?.source?.health !== 'function') {
      throw new InvalidOptionError(
        'source',
        'expected a MetricsConsumer or a Dashboard (an object with health())',
      )
    }
    const timeoutMs = toMilliseconds(options.timeout ?? '2s', 'timeout')
    const failOn = options.failOn ?? 'down'
    return attempt(
      this.health,
      key,
      async () => {
        const health = await options.source.health()
        const reasons = health.reasons.map((reason) => ({
          code: reason.code,
          state: reason.state,
          message: reason.message,
        }))
        if (health.state === 'down' || (failOn === 'degraded' && health.state === 'degraded')) {
          throw new HealthCheckFailedError(
            key,
            reasons.map((reason) => `${reason.code}: ${reason.message}`).join('; ') || health.state,
          )
        }
        const view = health.view
        return {
          state: health.state,
          reasons,
          ...(view && {
            // `status` is Terminus's own (up/down).
            viewStatus: view.status,
            generation: view.generation,
            version: view.version,
            ...(view.progress && {
              progress: {
                records: view.progress.records,
                applied: view.progress.applied,
                ratio: view.progress.ratio,
              },
            }),
          }),
        }
      },
      timeoutMs,
    )
  }
}
