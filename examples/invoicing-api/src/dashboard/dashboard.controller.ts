/**
 * GET /dashboard: every figure from Redis in one round trip, or from the in-process copy the
 * aggregator's change notices invalidate (sub-millisecond either way). GET /dashboard/stream:
 * the same figures pushed as Server-Sent Events on every change.
 *
 * Redis unreachable, hung or slow: the read answers within its deadline (500 ms) with the last
 * figures held, marked `stale: true` with `ageMs` (200), or, when none are held, rejects with
 * `E_STREAM_UNAVAILABLE`, which the global `AyalaErrorFilter` answers 503 with `Retry-After`. The
 * stream says so in a `status` event and stays open.
 */
import type { Dashboard, DashboardSnapshot } from '@ayala/metrics-stream'
import { type DashboardMessageEvent, DashboardStream, InjectDashboard } from '@ayala/nestjs/metrics-stream'
import { Controller, Get, Inject, Sse, UseInterceptors } from '@nestjs/common'
import type { Observable } from 'rxjs'
import type { dashboardAggregates } from '../invoices/invoice-events.ts'
import { InputInterceptor } from '../validation/input.ts'

/** GET /dashboard and GET /dashboard/stream (no parameters: any query parameter is refused). */
@Controller('dashboard')
@UseInterceptors(InputInterceptor)
export class DashboardController {
  constructor(
    @InjectDashboard() private readonly dashboard: Dashboard<typeof dashboardAggregates>,
    @Inject(DashboardStream) private readonly streams: DashboardStream,
  ) {}

  @Get()
  read(): Promise<DashboardSnapshot<typeof dashboardAggregates>> {
    return this.dashboard.read()
  }

  @Sse('stream')
  stream(): Observable<DashboardMessageEvent> {
    return this.streams.observe()
  }
}
