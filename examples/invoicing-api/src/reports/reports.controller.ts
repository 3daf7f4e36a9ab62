import { Controller, Get, Inject, Query, UseInterceptors } from '@nestjs/common'
import { InputInterceptor, InvalidInputException, MonthPipe } from '../validation/input.ts'
import { type MonthlyReportRow, ReportRepository } from './report.repository.ts'

/** GET /reports/monthly?from=YYYY-MM&to=YYYY-MM (default: every month from 2000-01 to 2099-12). */
@Controller('reports')
@UseInterceptors(InputInterceptor)
export class ReportsController {
  constructor(@Inject(ReportRepository) private readonly reports: ReportRepository) {}

  @Get('monthly')
  monthly(
    @Query('from', new MonthPipe('2000-01')) from: string,
    @Query('to', new MonthPipe('2099-12')) to: string,
  ): Promise<MonthlyReportRow[]> {
    if (from > to) throw new InvalidInputException('from', 'from must not be after to')
    return this.reports.monthly({ from, to })
  }
}
