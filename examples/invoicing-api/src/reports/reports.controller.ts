import { Controller, Get, Inject, Query, UseInterceptors } from '@nestjs/common'
import { DashboardService } from '../dashboard/dashboard.service.ts'
import {
  EnumPipe,
  InputInterceptor,
  InvalidInputException,
  MonthPipe,
  OptionalIntegerPipe,
} from '../validation/input.ts'
import type { MonthlyReport } from './monthly-report.ts'
import { type MonthlyReportRow, ReportRepository } from './report.repository.ts'

/**
 * GET /reports/monthly?year=YYYY[&source=db]: the report of a year per month and currency, from
 * the aggregator's month figures (or SQL). GET /reports/monthly?from=YYYY-MM&to=YYYY-MM (the
 * earlier form; default every month from 2000-01 to 2099-12): rows per month, currency and status
 * from a covering index, cached.
 */
@Controller('reports')
@UseInterceptors(InputInterceptor)
export class ReportsController {
  constructor(
    @Inject(ReportRepository) private readonly reports: ReportRepository,
    @Inject(DashboardService) private readonly dashboards: DashboardService,
  ) {}

  @Get('monthly')
  monthly(
    @Query('year', new OptionalIntegerPipe(1000, 9999)) year: number | undefined,
    @Query('source', new EnumPipe(['stream', 'db'])) source: 'stream' | 'db' | undefined,
    @Query('from', new MonthPipe('')) from: string,
    @Query('to', new MonthPipe('')) to: string,
  ): Promise<MonthlyReport | MonthlyReportRow[]> {
    if (year !== undefined) {
      if (from !== '' || to !== '') {
        throw new InvalidInputException(from !== '' ? 'from' : 'to', 'give year, or from and to, not both')
      }
      return this.dashboards.report(year, source ?? 'stream')
    }
    if (source !== undefined) throw new InvalidInputException('source', 'source needs year')
    const range = { from: from || '2000-01', to: to || '2099-12' }
    if (range.from > range.to) throw new InvalidInputException('from', 'from must not be after to')
    return this.reports.monthly(range)
  }
}
