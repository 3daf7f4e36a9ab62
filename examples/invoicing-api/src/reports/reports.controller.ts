import { BadRequestException, Controller, Get, Inject, Query } from '@nestjs/common'
import { type MonthlyReportRow, ReportRepository } from './report.repository.ts'

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/

/** GET /reports/monthly?from=YYYY-MM&to=YYYY-MM (default: every month). */
@Controller('reports')
export class ReportsController {
  constructor(@Inject(ReportRepository) private readonly reports: ReportRepository) {}

  @Get('monthly')
  monthly(@Query('from') from?: string, @Query('to') to?: string): Promise<MonthlyReportRow[]> {
    const range = { from: from ?? '2000-01', to: to ?? '2099-12' }
    if (!MONTH.test(range.from) || !MONTH.test(range.to) || range.from > range.to) {
      throw new BadRequestException('from and to are months YYYY-MM, from <= to')
    }
    return this.reports.monthly(range)
  }
}
