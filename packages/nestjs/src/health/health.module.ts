import { Module } from '@nestjs/common'
import { TerminusModule } from '@nestjs/terminus'
import { CacheHealthIndicator } from './cache.health.js'
import { KafkaHealthIndicator } from './kafka.health.js'
import { MetricsStreamHealthIndicator } from './metrics-stream.health.js'
import { OutboxHealthIndicator } from './outbox.health.js'
import { RedisHealthIndicator } from './redis.health.js'
import { SearchHealthIndicator } from './search.health.js'

/**
 * Terminus health indicators for the services the SDK uses: Redis, Elasticsearch/OpenSearch,
 * Kafka and a consumer's lag, and for the cache's auto-recovery state. Import it next to your
 * health controller.
 *
 * ```ts
 * @Get('health') @HealthCheck()
 * check() {
 *   return this.health.check([
 *     () => this.redis.pingCheck('redis', { url: process.env.REDIS_URL }),
 *     () => this.search.check('search', { url: process.env.OPENSEARCH_URL }),
 *     () => this.kafka.check('kafka', { kafka: this.kafkaClient }),
 *     () => this.outbox.check('outbox', { relay: this.relay }),
 *     () => this.cacheHealth.check('cache', { cache: this.cache }),
 *     () => this.metricsStream.check('dashboard', { source: this.consumer }),
 *   ])
 * }
 * ```
 */
@Module({
  imports: [TerminusModule],
  providers: [
    RedisHealthIndicator,
    SearchHealthIndicator,
    KafkaHealthIndicator,
    OutboxHealthIndicator,
    CacheHealthIndicator,
    MetricsStreamHealthIndicator,
  ],
  exports: [
    TerminusModule,
    RedisHealthIndicator,
    SearchHealthIndicator,
    KafkaHealthIndicator,
    OutboxHealthIndicator,
    CacheHealthIndicator,
    MetricsStreamHealthIndicator,
  ],
})
export class AyalaHealthModule {}
