/**
 * GET /health (Terminus): the database (a `SELECT 1` through Prisma; when it is slow or fails, one
 * direct connection names the reason, e.g. the user the server refused), Redis, the search engine,
 * Kafka, and whether each copy equals the truth: the cache (invalidations waiting for Redis), the
 * search index (missing, or drift left by the last reconcile), the dashboard (rebuilding after a
 * Redis data loss, or unable to rebuild), the dashboard aggregator's lag and
 * the outbox (its effects reach every copy: down when the oldest pending effect is older than the
 * relay's `downAfter`, or the table is unreachable). 200 when all are up, 503 otherwise; a degraded
 * copy (lagging, dead letters, a replay pending) is up with `state: 'degraded'` and its reasons.
 */

import type { Cache } from '@ayala/cache'
import type { MetricsConsumer } from '@ayala/metrics-stream'
import { InjectCache } from '@ayala/nestjs'
import {
  CacheHealthIndicator,
  KafkaHealthIndicator,
  MetricsStreamHealthIndicator,
  OutboxHealthIndicator,
  RedisHealthIndicator,
  SearchHealthIndicator,
} from '@ayala/nestjs/health'
import { InjectMetricsConsumer } from '@ayala/nestjs/metrics-stream'
import { InjectOutboxRelay } from '@ayala/nestjs/outbox'
import { InjectSearchClient, InjectSearchSync, type SearchSync } from '@ayala/nestjs/search'
import type { OutboxRelay } from '@ayala/outbox'
import type { SearchClient } from '@ayala/search'
import { Controller, Get, Inject } from '@nestjs/common'
import {
  HealthCheck,
  type HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
} from '@nestjs/terminus'
import type { Kafka } from 'kafkajs'
import { type Database, databaseFailure } from '../database/connection.ts'
import { type AppSettings, DATABASE, KAFKA, SETTINGS } from '../infrastructure.ts'

const SLOW = Symbol('slow')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

/** The aggregator is unhealthy when it lags by more than this many events. */
const MAX_DASHBOARD_LAG = 10_000

/** GET /health. */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Inject(RedisHealthIndicator) private readonly redis: RedisHealthIndicator,
    @Inject(SearchHealthIndicator) private readonly search: SearchHealthIndicator,
    @Inject(KafkaHealthIndicator) private readonly kafka: KafkaHealthIndicator,
    @Inject(OutboxHealthIndicator) private readonly outbox: OutboxHealthIndicator,
    @InjectOutboxRelay() private readonly relay: OutboxRelay,
    @Inject(CacheHealthIndicator) private readonly cacheHealth: CacheHealthIndicator,
    @Inject(MetricsStreamHealthIndicator) private readonly dashboard: MetricsStreamHealthIndicator,
    @InjectCache() private readonly cache: Cache,
    @InjectSearchSync() private readonly sync: SearchSync,
    @InjectSearchClient() private readonly searchClient: SearchClient,
    @Inject(SETTINGS) private readonly settings: AppSettings,
    @Inject(DATABASE) private readonly db: Database,
    @Inject(KAFKA) private readonly kafkaClient: Kafka,
    // null in an instance that does not run the aggregator (`INVOICING_AGGREGATOR=off`).
    @InjectMetricsConsumer() private readonly consumer: MetricsConsumer<any> | null,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    const { addresses } = this.settings
    const consumer = this.consumer
    // The aggregator's checks, where it runs (its lag; the figures' rebuild state).
    const aggregator =
      consumer === null
        ? []
        : [
            () => this.kafka.lagCheck('dashboard-lag', { consumer, maxLag: MAX_DASHBOARD_LAG }),
            // Down when the figures cannot be rebuilt (records deleted by retention, an undecodable
            // batch); up with state 'degraded' while a rebuild after a Redis data loss runs.
            () => this.dashboard.check('dashboard', { source: consumer }),
          ]
    return this.health.check([
      () =>
        this.indicators
          .check('database')
          .attempt(async () => {
            const query = this.db.prisma.$queryRaw`SELECT 1`.then(
              () => undefined,
              (error: unknown) => error,
            )
            // The pool retries a refused login silently until its acquire timeout: when the query
            // is slow or fails, one direct connection says why (the server and the user).
            const first = await Promise.race([query, sleep(500).then(() => SLOW)])
            if (first === undefined) return
            const reason = await databaseFailure(addresses.databaseUrl)
            if (reason !== undefined) throw new Error(reason)
            const error = first === SLOW ? await query : first
            if (error !== undefined) throw error
          })
          .withTimeout(2_000),
      // Its own connection, with the same credentials and CA as the cache's (no URL in the answer).
      () =>
        this.redis.pingCheck('redis', {
          url: addresses.redisUrl,
          redisOptions: addresses.redisOptions,
          timeout: '1s',
        }),
      // The module's own client: its credentials and CA, and no URL (nor password) in the answer.
      () => this.search.check('search', { client: this.searchClient, timeout: '2s' }),
      () => this.kafka.check('kafka', { kafka: this.kafkaClient, timeout: '3s' }),
      ...aggregator,
      () => this.cacheHealth.check('cache', { cache: this.cache }),
      () => this.search.syncCheck('search-sync', { sync: this.sync }),
      () => this.outbox.check('outbox', { relay: this.relay, timeout: '2s' }),
    ])
  }
}
