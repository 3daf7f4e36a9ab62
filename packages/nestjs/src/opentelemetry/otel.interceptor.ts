/**
 * Request metrics for OpenTelemetry: the semantic-convention histogram
 * `http.server.request.duration` (seconds; attributes `http.request.method`, `http.route`,
 * `http.response.status_code`), a per-route cache breakdown counter
 * `ayala.http.request.cache_events` (`http.route`, `ayala.cache.result`), and the same breakdown
 * as attributes (`ayala.cache.l1_hits`, ...) on the active span, so a trace shows whether a slow
 * request missed the cache. Spans themselves come from your tracer's HTTP/Nest instrumentation.
 *
 * Streams (SSE, `text/event-stream`, the `streamRoutes`) are not timed unless `measureStreams`:
 * one that ends adds one to `ayala.http.streams` (`http.request.method`, `http.route`) instead,
 * as in the Prometheus interceptor (see `../metrics/streaming.ts`).
 */
import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  type NestInterceptor,
  type OnModuleDestroy,
  Optional,
} from '@nestjs/common'
import { type Counter, type Histogram, type Meter, trace } from '@opentelemetry/api'
import type { Observable } from 'rxjs'
import { tap } from 'rxjs/operators'
import {
  emptyRequestCacheStats,
  type RequestCacheStats,
  retainCacheChannelSubscription,
  runWithRequestCacheStats,
} from '../metrics/request-cache-stats.js'
import { describeRoute, statusOfError } from '../metrics/route-info.js'
import { isEventStreamResponse, isSseHandler } from '../metrics/streaming.js'

/** Token of the `Meter` the OpenTelemetry module writes to. */
export const AYALA_OTEL_METER: unique symbol = Symbol('@ayala/nestjs:otel-meter')

/** Token of the {@link OtelStreamOptions} of the OpenTelemetry module. */
export const AYALA_OTEL_STREAMS: unique symbol = Symbol('@ayala/nestjs:otel-streams')

/** How the OpenTelemetry interceptor treats streams (resolved `measureStreams`, `streamRoutes`). */
export interface OtelStreamOptions {
  /** Record streams in the duration histogram like any request. */
  readonly measureStreams: boolean
  /** Route patterns that stream without SSE (long polls). */
  readonly streamRoutes: ReadonlySet<string>
}

const DEFAULT_STREAMS: OtelStreamOptions = Object.freeze({
  measureStreams: false,
  streamRoutes: new Set<string>(),
})

const RESULTS: ReadonlyArray<readonly [keyof RequestCacheStats, string]> = [
  ['l1Hits', 'l1_hit'],
  ['l2Hits', 'l2_hit'],
  ['misses', 'miss'],
  ['stale', 'stale'],
  ['coalesced', 'coalesced'],
  ['bypassed', 'bypass'],
]

/** Records request duration and cache breakdown through OpenTelemetry. */
@Injectable()
export class OtelRequestInterceptor implements NestInterceptor, OnModuleDestroy {
  private readonly duration: Histogram
  private readonly cacheEvents: Counter
  private readonly streamsEnded: Counter
  private readonly streams: OtelStreamOptions
  private readonly release: () => void

  constructor(
    @Inject(AYALA_OTEL_METER) meter: Meter,
    @Optional() @Inject(AYALA_OTEL_STREAMS) streams?: OtelStreamOptions,
  ) {
    this.streams = streams ?? DEFAULT_STREAMS
    this.duration = meter.createHistogram('http.server.request.duration', {
      description: 'Duration of handled requests (interceptor to response)',
      unit: 's',
      advice: {
        explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      },
    })
    this.cacheEvents = meter.createCounter('ayala.http.request.cache_events', {
      description: 'Cache lookups made while handling requests, by route and result',
      unit: '{lookup}',
    })
    this.streamsEnded = meter.createCounter('ayala.http.streams', {
      description: 'Streaming responses (SSE, long polls) that ended; not in http.server.request.duration',
      unit: '{stream}',
    })
    this.release = retainCacheChannelSubscription()
  }

  /** Stop listening to the cache's channels. */
  onModuleDestroy(): void {
    this.release()
  }

  /** Wrap one handler call. */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const info = describeRoute(context)
    const measureStreams = this.streams.measureStreams
    const stream =
      !measureStreams &&
      ((info.transport === 'http' && isSseHandler(context)) || this.streams.streamRoutes.has(info.route))
    const start = performance.now()
    const stats = emptyRequestCacheStats()
    const span = trace.getActiveSpan()
    let errorStatus: number | undefined
    return runWithRequestCacheStats(stats, () => next.handle()).pipe(
      tap({
        error: (error: unknown) => {
          errorStatus = statusOfError(error)
        },
        finalize: () => {
          if (stream || (!measureStreams && info.transport === 'http' && isEventStreamResponse(context))) {
            this.streamsEnded.add(1, { 'http.request.method': info.method, 'http.route': info.route })
            return
          }
          let status = errorStatus ?? 200
          if (errorStatus === undefined && info.transport === 'http') {
            const code = context.switchToHttp().getResponse<{ statusCode?: unknown }>().statusCode
            if (typeof code === 'number') status = code
          }
          this.duration.record((performance.now() - start) / 1000, {
            'http.request.method': info.method,
            'http.route': info.route,
            'http.response.status_code': status,
          })
          for (const [field, result] of RESULTS) {
            const count = stats[field]
            if (count > 0)
              this.cacheEvents.add(count, { 'http.route': info.route, 'ayala.cache.result': result })
          }
          span?.setAttributes({
            'ayala.cache.l1_hits': stats.l1Hits,
            'ayala.cache.l2_hits': stats.l2Hits,
            'ayala.cache.misses': stats.misses,
            'ayala.cache.bypassed': stats.bypassed,
          })
        },
      }),
    )
  }
}
