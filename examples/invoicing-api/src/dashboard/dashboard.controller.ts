/**
 * GET /dashboard: every figure from Redis in one round trip, or from the in-process copy the
 * aggregator's change notices invalidate (sub-millisecond either way), with its summary
 * (`summary.ts`); `?source=db` recomputes the same figures in SQL. GET /dashboard/stream: the
 * same figures and summary pushed as Server-Sent Events on every change.
 *
 * Redis unreachable, hung or slow: the read answers within its deadline (500 ms) with the last
 * figures held, marked `stale: true` with `ageMs` (200), or, when none are held, rejects with
 * `E_STREAM_UNAVAILABLE`, which the global `AyalaErrorFilter` answers 503 with `Retry-After`. The
 * stream says so in a `status` event and stays open.
 */
import { type DashboardMessageEvent, DashboardStream } from '@ayala/nestjs/metrics-stream'
import { Controller, Get, Inject, Query, Sse, UseInterceptors } from '@nestjs/common'
import { concatMap, type Observable } from 'rxjs'
import { EnumPipe, InputInterceptor } from '../validation/input.ts'
import { type DashboardAnswer, DashboardService } from './dashboard.service.ts'
import { dashboardFigures, type SourceFigures } from './dashboard-source.ts'

/** GET /dashboard[?source=db] and GET /dashboard/stream (any other query parameter is refused). */
@Controller('dashboard')
@UseInterceptors(InputInterceptor)
export class DashboardController {
  constructor(
    @Inject(DashboardService) private readonly dashboards: DashboardService,
    @Inject(DashboardStream) private readonly streams: DashboardStream,
  ) {}

  @Get()
  read(
    @Query('source', new EnumPipe(['stream', 'db'])) source: 'stream' | 'db' | undefined,
  ): Promise<DashboardAnswer> {
    return source === 'db' ? this.dashboards.fromDatabase() : this.dashboards.fromStream()
  }

  @Sse('stream')
  stream(): Observable<DashboardMessageEvent> {
    return this.streams.observe().pipe(
      concatMap(async (event) => {
        if (event.type !== 'figures') return event
        const now = Date.now()
        const data = event.data as { figures: SourceFigures }
        const figures = dashboardFigures(data.figures, now)
        return { ...event, data: { ...data, figures, summary: await this.dashboards.summary(figures, now) } }
      }),
    )
  }
}
