export type { Duration } from './duration.js'
export type {
  CacheEffectPayload,
  IndexEffectPayload,
  KafkaEffectPayload,
  OutboxEffect,
} from './effects.js'
export { cacheEffect, indexEffect, kafkaEffect } from './effects.js'
export type { OutboxErrorCode, OutboxErrorContext } from './errors.js'
export { OutboxError } from './errors.js'
export type { DeadLetter, DeadLetterSelection, OutboxOptions } from './outbox.js'
export { createOutbox, DEFAULT_OUTBOX_OPTIONS, Outbox } from './outbox.js'
export type { RelayHealth, SinkHealth } from './relay/health.js'
export type { OutboxRelayOptions } from './relay/options.js'
export { DEFAULT_OUTBOX_RELAY_OPTIONS } from './relay/options.js'
export { OutboxRelay } from './relay/relay.js'
export type { OutboxRelayEvents, RelayPass, SinkStats } from './relay/state.js'
export type { CacheLike, CacheSinkOptions } from './sinks/cache-sink.js'
export { cacheSink } from './sinks/cache-sink.js'
export type { KafkaProducerLike, KafkaSinkOptions } from './sinks/kafka-sink.js'
export { kafkaSink } from './sinks/kafka-sink.js'
export type { DeliveryContext, DeliveryOutcome, OutboxDelivery, OutboxSink } from './sinks/sink.js'
export { DELIVERED } from './sinks/sink.js'
export type { SqlDialect } from './sql/dialect.js'
export type { OutboxLag } from './sql/lag.js'
export type { SqlHandle, SqlPool, SqlResult, SqlRow, SqlRunner, SqlTransactor } from './sql/runner.js'
