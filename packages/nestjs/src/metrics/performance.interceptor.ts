/**
 * Measures every handler it wraps: one histogram observation (and one summary observation for
 * the p50/p95/p99 quantiles) per request, labelled by method, route pattern and status; a
 * slow-request event, callback and warning line over the threshold; and, with the cache
 * breakdown on, the cache hits, misses, stale values and coalesced waits the request caused.
 *
 * How the breakdown works: the handler is started inside an `AsyncLocalStorage` store (Nest's
 * `next.handle()` binds the async scope it is called in), and a `diagnostics_channel` subscriber
 * on the cache's channels counts into the store of the request that published the event. The
 * route label is the route pattern, never the raw URL, so the label set stays bounded.
 *
 * Streams (SSE, `text/event-stream`, the `streamRoutes`) are not requests with a latency: unless
 * `measureStreams` is on, one that ends only adds to `http_streams_total` (see `streaming.ts`).
 */
import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  Logger,
  type NestInterceptor,
  type OnModuleDestroy,
} from '@nestjs/common'
import type { Observable } from 'rxjs'
import { tap } from 'rxjs/operators'
import type { CacheResultLabel, HttpMetrics } from './http-metrics.js'
import { PerformanceEvents } from './performance-events.js'
import type { ResolvedPerformanceOptions, SlowRequestEvent } from './performance-options.js'
import {
  emptyRequestCacheStats,
  type RequestCacheStats,
  retainCacheChannelSubscription,
  runWithRequestCacheStats,
} from './request-cache-stats.js'
import { describeRoute, type RouteInfo, requestPath, statusOfError } from './route-info.js'
import { isEventStreamResponse, isSseHandler } from './streaming.js'
import { AYALA_HTTP_METRICS, AYALA_PERFORMANCE_OPTIONS } from './tokens.js'

const CACHE_RESULTS: ReadonlyArray<readonly [keyof RequestCacheStats, CacheResultLabel]> = [
  ['l1Hits', 'l1_hit'],
  ['l2Hits', 'l2_hit'],
  ['misses', 'miss'],
  ['stale', 'stale'],
  ['coalesced', 'coalesced'],
  ['bypassed', 'bypass'],
]

/**
 * The performance interceptor. `AyalaMetricsModule` registers it globally (`APP_INTERCEPTOR`)
 * unless `globalInterceptor: false`; it can also be applied with `@UseInterceptors(PerformanceInterceptor)`.
 */
@Injectable()
export class PerformanceInterceptor implements NestInterceptor, OnModuleDestroy {
  private readonly logger = new Logger('AyalaPerformance')
  private readonly releaseChannels: (() => void) | undefined

  constructor(
    @Inject(AYALA_PERFORMANCE_OPTIONS) private readonly options: ResolvedPerformanceOptions,
    @Inject(AYALA_HTTP_METRICS) private readonly metrics: HttpMetrics,
    @Inject(PerformanceEvents) private readonly events: PerformanceEvents,
  ) {
    this.releaseChannels = options.cacheBreakdown ? retainCacheChannelSubscription() : undefined
  }

  /** Stop listening to the cache's channels. */
  onModuleDestroy(): void {
    this.releaseChannels?.()
  }

  /** Wrap one handler call. */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const info = describeRoute(context)
    if (this.options.ignoreRoutes.has(info.route)) return next.handle()
    const stream =
      !this.options.measureStreams &&
      ((info.transport === 'http' && isSseHandler(context)) || this.options.streamRoutes.has(info.route))
    const start = performance.now()
    const stats = this.options.cacheBreakdown ? emptyRequestCacheStats() : undefined
    const source = stats === undefined ? next.handle() : runWithRequestCacheStats(stats, () => next.handle())
    let errorStatus: number | undefined
    return source.pipe(
      tap({
        error: (error: unknown) => {
          errorStatus = statusOfError(error)
        },
        finalize: () => {
          if (stream || this.endsEventStream(context, info)) {
            this.metrics.streams.inc({ method: info.method, route: info.route })
            return
          }
          this.record(context, info, performance.now() - start, errorStatus, stats)
        },
      }),
    )
  }

  /** A handler that wrote `text/event-stream` itself (no `@Sse()`), when streams are not measured. */
  private endsEventStream(context: ExecutionContext, info: RouteInfo): boolean {
    return !this.options.measureStreams && info.transport === 'http' && isEventStreamResponse(context)
  }

  private record(
    context: ExecutionContext,
    info: RouteInfo,
    durationMs: number,
    errorStatus: number | undefined,
    stats: RequestCacheStats | undefined,
  ): void {
    let statusCode = errorStatus ?? 200
    if (errorStatus === undefined && info.transport === 'http') {
      const code = context.switchToHttp().getResponse<{ statusCode?: unknown }>().statusCode
      if (typeof code === 'number') statusCode = code
    }
    const seconds = durationMs / 1000
    this.metrics.duration.observe(
      { method: info.method, route: info.route, status_code: statusCode },
      seconds,
    )
    this.metrics.quantiles?.observe({ method: info.method, route: info.route }, seconds)
    if (stats !== undefined) {
      for (const [field, result] of CACHE_RESULTS) {
        const count = stats[field]
        if (count > 0) this.metrics.cacheEvents.inc({ method: info.method, route: info.route, result }, count)
      }
    }
    const slow = durationMs >= this.options.slowThresholdMs
    if (slow) this.slow(info, statusCode, durationMs, stats)
    if (this.events.listenerCount('request') > 0) {
      try {
        this.events.emit('request', {
          transport: info.transport,
          method: info.method,
          route: info.route,
          statusCode,
          durationMs,
          cache: stats === undefined ? undefined : Object.freeze({ ...stats }),
          at: Date.now(),
          slow,
          path: requestPath(context),
        })
      } catch (error) {
        // A failing listener must not fail the request it reports on; it is logged instead.
        this.logger.error(
          `A request listener threw: ${String(error)}`,
          error instanceof Error ? error.stack : undefined,
        )
      }
    }
  }

  private slow(
    info: RouteInfo,
    statusCode: number,
    durationMs: number,
    stats: RequestCacheStats | undefined,
  ): void {
    this.metrics.slow.inc({ method: info.method, route: info.route })
    const event: SlowRequestEvent = {
      transport: info.transport,
      method: info.method,
      route: info.route,
      statusCode,
      durationMs,
      thresholdMs: this.options.slowThresholdMs,
      cache: stats === undefined ? undefined : Object.freeze({ ...stats }),
    }
    if (this.options.logSlowRequests) {
      const cache =
        stats === undefined
          ? ''
          : `; cache: ${stats.l1Hits} L1 hits, ${stats.l2Hits} L2 hits, ${stats.misses} misses, ${stats.stale} stale, ${stats.bypassed} bypassed`
      this.logger.warn(
        `Slow request: ${info.method} ${info.route} ${statusCode} took ${durationMs.toFixed(1)} ms (threshold ${this.options.slowThresholdMs} ms)${cache}`,
      )
    }
    try {
      if (this.events.listenerCount('slow-request') > 0) this.events.emit('slow-request', event)
      this.options.onSlowRequest?.(event)
    } catch (error) {
      // A failing alert hook must not fail the request it reports on; it is logged instead.
      this.logger.error(
        `A slow-request listener threw: ${String(error)}`,
        error instanceof Error ? error.stack : undefined,
      )
    }
  }
}
