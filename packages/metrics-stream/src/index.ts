export type { BucketUnit, TimeBucket } from './aggregates/buckets.js'
export { day, hour, month } from './aggregates/buckets.js'
export type {
  ChangelogFigureOptions,
  ChangelogFigures,
  ChangelogOptions,
  ChangelogViewDefinition,
} from './aggregates/changelog.js'
export { changelog, defineChangelogView } from './aggregates/changelog.js'
export type {
  Aggregate,
  AggregateBuilders,
  AggregateCommon,
  Aggregates,
  BucketedFigure,
  Contribution,
  Dimension,
  DistinctOptions,
  EntityChange,
  Figures,
  GroupedFigure,
  GroupedOptions,
  Ranked,
  SumOptions,
  TopOptions,
  View,
  ViewDefinition,
} from './aggregates/define.js'
export { count, defineAggregates, defineView, distinct, sum, top } from './aggregates/define.js'
export type { AppliedEvent } from './consume/apply.js'
export type { RedisBehindEvent } from './consume/behind.js'
export type { ConsumerHealth } from './consume/consumer.js'
export { createMetricsConsumer, MetricsConsumer } from './consume/consumer.js'
export { MAX_ENTITY_KEY_LENGTH } from './consume/entity.js'
export { kafkaSource } from './consume/kafka-source.js'
export type { KafkaSourceOptions } from './consume/kafka-source-options.js'
export { DEFAULT_KAFKA_SOURCE_OPTIONS } from './consume/kafka-source-options.js'
export type { PartitionLag } from './consume/lag.js'
export type { MetricsConsumerOptions } from './consume/options.js'
export { DEFAULT_METRICS_CONSUMER_OPTIONS } from './consume/options.js'
export type { RebuildingEvent } from './consume/recovery.js'
export type {
  OutgoingMessage,
  Source,
  SourceBatch,
  SourceBatchContext,
  SourceEvents,
  SourceMessage,
  UndecodableBatch,
} from './consume/source.js'
export type { MetricsConsumerStats, SourceProblem } from './consume/state.js'
export type { Duration } from './duration.js'
export type {
  MetricsStreamErrorCode,
  MetricsStreamErrorContext,
  StreamUnavailableReason,
  TopicMismatch,
} from './errors.js'
export { MetricsStreamError, StreamUnavailableError, TopicMismatchError } from './errors.js'
export type { HealthReason, HealthReport, HealthState } from './health/reasons.js'
export { worstState } from './health/reasons.js'
export type {
  PartitionProgress,
  RebuildProgress,
  ViewState,
  ViewStateReason,
  ViewStatus,
} from './health/view-state.js'
export type { PartitionKeys, ViewKeys } from './keys.js'
export { partitionKeys, viewKeys } from './keys.js'
export type { EventProducer, EventProducerOptions } from './produce/producer.js'
export { createEventProducer } from './produce/producer.js'
export type { SseOptions } from './push/sse.js'
export { DEFAULT_SSE_OPTIONS, statusOf, streamDashboard, unavailableStatus } from './push/sse.js'
export type { BreakerState } from './read/circuit-breaker.js'
export type { DashboardHealth, DashboardStats } from './read/dashboard.js'
export { createDashboard, Dashboard, readDashboard } from './read/dashboard.js'
export type { DashboardOptions, DashboardReadOptions } from './read/options.js'
export { DEFAULT_DASHBOARD_OPTIONS } from './read/options.js'
export type { ChangeNotice, DashboardSnapshot, DashboardUpdate, ReadParams } from './read/snapshot.js'
export { parseNotice } from './read/subscription.js'
export type { PromoteOptions, Rebuild, RebuildOptions } from './rebuild.js'
export { currentGeneration, dropGeneration, promoteGeneration, startRebuild } from './rebuild.js'
export type { ViewTopic, ViewTopicsReport } from './topics/ensure-view-topics.js'
export { ensureViewTopics } from './topics/ensure-view-topics.js'
export type { SideTopicOptions, ViewTopicRole, ViewTopicsOptions } from './topics/options.js'
export { DEFAULT_VIEW_TOPICS_OPTIONS } from './topics/options.js'
