/**
 * The dashboard's and the monthly report's answers from either source: the aggregator's figures
 * (Redis, or the in-process copy its change notices keep current) or SQL's recomputation of the
 * same figures (`?source=db`), shaped by the same code (`summary.ts`, `reports/monthly-report.ts`).
 * Client names come from the client cache (`ClientRepository.names`); when they cannot be read,
 * the figures are served with `name: null` rather than not at all.
 */
import type { Dashboard, DashboardSnapshot } from '@ayala/metrics-stream'
import { InjectDashboard } from '@ayala/nestjs/metrics-stream'
import { Inject, Injectable, Logger } from '@nestjs/common'
import { ClientRepository } from '../clients/client.repository.ts'
import type { Database } from '../database/connection.ts'
import { DATABASE } from '../infrastructure.ts'
import { REPORT_FIGURES } from '../invoices/invoice-events.ts'
import { type MonthlyReport, monthlyReport, reportClientIds } from '../reports/monthly-report.ts'
import { dashboardFigures, type SourceAggregates } from './dashboard-source.ts'
import { sqlDashboardFigures, sqlMonthFigures } from './dashboard-sql.ts'
import { type DashboardFigures, type DashboardSummary, dashboardSummary } from './summary.ts'

/** GET /dashboard's answer. */
export type DashboardAnswer = Partial<Omit<DashboardSnapshot<SourceAggregates>, 'figures'>> & {
  source: 'stream' | 'db'
  figures: DashboardFigures
  summary: DashboardSummary
}

/** Dashboard and report reads. */
@Injectable()
export class DashboardService {
  private readonly logger = new Logger('DashboardService')

  constructor(
    // The view of the configured source (`dashboard-source.ts`): its figures are shaped below.
    @InjectDashboard() private readonly dashboard: Dashboard<SourceAggregates>,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(ClientRepository) private readonly clients: ClientRepository,
  ) {}

  /** The dashboard from the aggregator (and the Flink job's changelogs under that source). */
  async fromStream(): Promise<DashboardAnswer> {
    const now = Date.now()
    const snapshot = await this.dashboard.read()
    const figures = dashboardFigures(snapshot.figures, now)
    return { source: 'stream', ...snapshot, figures, summary: await this.summary(figures, now) }
  }

  /** The same figures recomputed in SQL. */
  async fromDatabase(): Promise<DashboardAnswer> {
    const now = Date.now()
    const figures = await sqlDashboardFigures(this.db.prisma, now)
    return {
      source: 'db',
      status: 'live',
      stale: false,
      ageMs: 0,
      figures,
      summary: await this.summary(figures, now),
    }
  }

  /** The summary of `figures` (top clients named). */
  async summary(figures: DashboardFigures, now = Date.now()): Promise<DashboardSummary> {
    const names = await this.names(figures.topClients.map((ranked) => Number(ranked.member)))
    return dashboardSummary(figures, now, names)
  }

  /** The monthly report of `year` from `source`. */
  async report(year: number, source: 'stream' | 'db'): Promise<MonthlyReport> {
    const from = Date.UTC(year, 0, 1)
    const figures =
      source === 'db'
        ? await sqlMonthFigures(this.db.prisma, new Date(from), new Date(Date.UTC(year + 1, 0, 1)))
        : (await this.dashboard.read({ from, to: Date.UTC(year, 11, 31), figures: REPORT_FIGURES })).figures
    return monthlyReport(year, figures, await this.names(reportClientIds(figures)))
  }

  private async names(ids: number[]): Promise<Map<number, string>> {
    try {
      return await this.clients.names(ids)
    } catch (error) {
      this.logger.warn(`client names unavailable: ${error instanceof Error ? error.message : String(error)}`)
      return new Map()
    }
  }
}
