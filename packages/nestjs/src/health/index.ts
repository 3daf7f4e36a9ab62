export type { CacheHealthOptions, CacheHealthSource } from './cache.health.js'
export { CacheHealthIndicator } from './cache.health.js'
export { AyalaHealthModule } from './health.module.js'
export type { ConsumerLagOptions, KafkaHealthOptions, PartitionLagLike } from './kafka.health.js'
export { KafkaHealthIndicator } from './kafka.health.js'
export type { MetricsStreamHealthOptions, MetricsStreamHealthSource } from './metrics-stream.health.js'
export { MetricsStreamHealthIndicator } from './metrics-stream.health.js'
export type { OutboxHealthOptions, OutboxHealthSource } from './outbox.health.js'
export { OutboxHealthIndicator } from './outbox.health.js'
export type { RedisPingOptions } from './redis.health.js'
export { RedisHealthIndicator } from './redis.health.js'
export type {
  SearchHealthAuth,
  SearchHealthOptions,
  SearchHealthSource,
  SearchSyncHealthOptions,
  SearchSyncSource,
} from './search.health.js'
export { SearchHealthIndicator } from './search.health.js'
