/**
 * The application: the SDK's Nest modules wired to this backend's database, Redis, Kafka and
 * search engine.
 *
 * - `AyalaCacheModule`: the two-tier cache, bound to every provider; `InvoiceRepository` and
 *   `ReportRepository` use its decorators.
 * - `AyalaSearchModule`: the invoice index (created at start-up if missing).
 * - `AyalaOutboxModule`: the transactional outbox table in the application's database and, in
 *   every instance, a relay delivering the effects writes record there to the search index, the
 *   Kafka topic of invoice events and the cache (instances share the work).
 * - `AyalaMetricsStreamModule`: the Kafka -> Redis aggregator of invoice events running in this
 *   application, the dashboard reads and their SSE push; under `INVOICING_DASHBOARD_SOURCE=flink`
 *   it also reads the Flink job's changelog topics (`dashboard/dashboard-source.ts`).
 * - `AyalaMetricsModule`: the performance interceptor on every route and `GET /metrics`.
 * - `AyalaHealthModule`: the Terminus indicators used by `GET /health`.
 * - `DashboardPageController`: the live dashboard page at `/` (static HTML and script on the SSE stream).
 * - `cacheCoherenceContext` (middleware of the invoice and client routes): a write's response says whether every
 *   instance already dropped its cached copy (`Cache-Coherence`, database/cache-coherence.ts).
 * - `DatabaseErrorFilter` (global, the SDK's `AyalaErrorFilter` plus the database's unavailability): a dependency that cannot answer (Redis, the search engine, the
 *   database behind the outbox) is a 503 with `Retry-After`, input the SDK refuses a 400, never a
 *   500 with a message or a stack.
 */

import type { Cache } from '@ayala/cache'
import { kafkaSource } from '@ayala/metrics-stream'
import { AyalaCacheModule, getCacheToken } from '@ayala/nestjs'
import { AyalaHealthModule } from '@ayala/nestjs/health'
import { AyalaMetricsModule } from '@ayala/nestjs/metrics'
import { AyalaMetricsStreamModule } from '@ayala/nestjs/metrics-stream'
import { AyalaOutboxModule } from '@ayala/nestjs/outbox'
import { AYALA_SEARCH_CLIENT, AyalaSearchModule, getSearchRepositoryToken } from '@ayala/nestjs/search'
import { cacheSink, kafkaSink } from '@ayala/outbox'
import { searchSink } from '@ayala/outbox/search'
import type { SearchClient } from '@ayala/search'
import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common'
import { APP_FILTER } from '@nestjs/core'
import type { Kafka } from 'kafkajs'
import { ClientRepository } from './clients/client.repository.ts'
import { ClientsController } from './clients/clients.controller.ts'
import { searchClientOptions } from './config.ts'
import { DashboardController } from './dashboard/dashboard.controller.ts'
import { DashboardService } from './dashboard/dashboard.service.ts'
import { dashboardTopics, dashboardViewOf } from './dashboard/dashboard-source.ts'
import { DashboardPageController } from './dashboard-page/dashboard-page.controller.ts'
import { cacheCoherenceContext } from './database/cache-coherence.ts'
import type { Database } from './database/connection.ts'
import { DatabaseErrorFilter } from './database/database-error.filter.ts'
import { HealthController } from './health/health.controller.ts'
import {
  type AppSettings,
  DATABASE,
  INVOICE_EVENTS,
  InfrastructureModule,
  type InvoiceEvents,
  KAFKA,
} from './infrastructure.ts'
import { INVOICE_SEARCH, InvoiceRepository } from './invoices/invoice.repository.ts'
import { invoiceIndex, invoiceReconcileSource } from './invoices/invoice-index.ts'
import { InvoiceListRepository } from './invoices/invoice-list.ts'
import { InvoicesController } from './invoices/invoices.controller.ts'
import { ReportRepository } from './reports/report.repository.ts'
import { ReportsController } from './reports/reports.controller.ts'
import { SearchController } from './search/search.controller.ts'

/** The invoicing API's root module. */
@Module({})
export class AppModule implements NestModule {
  /** The routes that write: their responses carry `Cache-Coherence` (database/cache-coherence.ts). */
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(cacheCoherenceContext).forRoutes(InvoicesController, ClientsController)
  }

  /** The application for `settings` (addresses and the dataset's resource names). */
  static forRoot(settings: AppSettings): DynamicModule {
    const { addresses, names } = settings
    const source = settings.dashboardSource ?? 'embedded'
    const invoices = invoiceIndex(names.index)
    const infrastructure = InfrastructureModule.forRoot(settings)
    return {
      module: AppModule,
      imports: [
        infrastructure,
        AyalaCacheModule.forRoot({
          redis: addresses.redisUrl,
          // TLS CA, ACL user: what REDIS_URL does not carry (see config.ts).
          redisOptions: addresses.redisOptions,
          namespace: names.cacheNamespace,
          isGlobal: true,
        }),
        AyalaSearchModule.forRootAsync({
          isGlobal: true,
          indexes: [invoices],
          imports: [infrastructure],
          inject: [DATABASE],
          useFactory: (db: Database) => ({
            // The node, its credentials and CA (SEARCH_USERNAME/PASSWORD or SEARCH_API_KEY, SEARCH_CA_FILE).
            client: searchClientOptions(addresses),
            ensureIndexes: true,
            // Drift: an index missing or empty at start-up is backfilled from MariaDB, and every
            // `INVOICE_RECONCILE_INTERVAL` (10 min) the index is compared with the table by
            // ranges and repaired (missing, stale and extra documents).
            reconcile: [
              {
                index: names.index,
                source: invoiceReconcileSource(db),
                onStart: 'backfill',
                interval: settings.reconcileInterval ?? '10m',
                options: { key: 'invoiceId', versionField: 'version' },
              },
            ],
          }),
        }),
        AyalaOutboxModule.forRootAsync({
          isGlobal: true,
          imports: [infrastructure],
          inject: [DATABASE, AYALA_SEARCH_CLIENT, getCacheToken(), INVOICE_EVENTS],
          useFactory: (db: Database, search: SearchClient, cache: Cache, events: InvoiceEvents) => ({
            db: db.pool,
            table: names.outboxTable,
            sinks: {
              search: searchSink({ search }),
              kafka: kafkaSink({ producer: events.producer }),
              cache: cacheSink({ cache }),
            },
            relay: {
              // A stable id per instance: restarted after a crash, it takes back its claimed batch at once.
              id: settings.instanceId,
              pollInterval: '100ms',
              deliveryTimeout: '10s',
              claimTimeout: '30s',
            },
          }),
        }),
        AyalaMetricsStreamModule.forRootAsync({
          isGlobal: true,
          imports: [infrastructure],
          inject: [KAFKA],
          useFactory: (kafka: Kafka) => ({
            redis: addresses.redisUrl,
            redisOptions: addresses.redisOptions,
            namespace: names.dashboardNamespace,
            // Under the Flink source, a view of its own that reads the Flink job's changelogs too.
            view: dashboardViewOf(source, names),
            // Absent (`aggregator: false`): this instance reads the figures another one aggregates.
            consumer:
              settings.aggregator === false
                ? undefined
                : {
                    source: kafkaSource({
                      kafka,
                      groupId: source === 'flink' ? names.flinkGroupId : names.groupId,
                      topics: dashboardTopics(source, names),
                      commitInterval: 1_000,
                    }),
                  },
          }),
        }),
        AyalaMetricsModule.forRoot({
          isGlobal: true,
          slowThreshold: settings.slowThresholdMs ?? 200,
        }),
        AyalaHealthModule,
      ],
      controllers: [
        ClientsController,
        InvoicesController,
        SearchController,
        DashboardController,
        DashboardPageController,
        ReportsController,
        HealthController,
      ],
      providers: [
        // The SDK's typed errors and the database's unavailability: 503, never a 500 or a hang.
        { provide: APP_FILTER, useClass: DatabaseErrorFilter },
        { provide: INVOICE_SEARCH, useExisting: getSearchRepositoryToken(invoices) },
        ClientRepository,
        InvoiceRepository,
        InvoiceListRepository,
        ReportRepository,
        DashboardService,
      ],
    }
  }
}
