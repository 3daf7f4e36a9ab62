export type { BusMessage } from './bus/bus.js'
export type { PeerAcknowledgement, PeersEvent } from './bus/peer-acks.js'
export { Cache, createCache } from './cache.js'
export type {
  AsyncMethodDecorator,
  CacheableOptions,
  CacheInvalidateOptions,
  CacheLocator,
  CachePutOptions,
  FromArgs,
} from './decorators/decorators.js'
export {
  bindCache,
  CACHE,
  Cacheable,
  CacheInvalidate,
  CachePut,
  setDefaultCache,
} from './decorators/decorators.js'
export type { Duration, DurationUnit } from './duration.js'
export { toMilliseconds } from './duration.js'
export type { CacheErrorCode, CacheErrorContext } from './errors.js'
export {
  CacheClosedError,
  CacheError,
  CacheNotBoundError,
  InvalidOptionError,
  L2UnavailableError,
  LoaderTimeoutError,
} from './errors.js'
export type { BatchLoader, Loader, LoaderContext } from './get-set/loader-runner.js'
export type { CacheStats, RecoveryEvent } from './observability/channels.js'
export { CACHE_CHANNELS } from './observability/channels.js'
export type {
  CacheMetricDescriptor,
  CacheMetricSample,
  CacheMetricType,
} from './observability/metrics.js'
export { CACHE_METRICS } from './observability/metrics.js'
export type { HasStats, PrometheusMetricsOptions } from './observability/prometheus.js'
export { prometheusMetrics } from './observability/prometheus.js'
export type {
  CacheOptions,
  GetOrSetOptions,
  InvalidateOptions,
  InvalidationOptions,
  ReadyOptions,
  RedisInput,
  ResolvedCacheOptions,
  SetManyOptions,
  SetOptions,
} from './options.js'
export { DEFAULT_CACHE_OPTIONS } from './options.js'
export type { Codec } from './serialization/msgpack-codec.js'
export { msgpackCodec } from './serialization/msgpack-codec.js'
export type { BreakerState } from './tiers/circuit-breaker.js'
