export type { BreakerState } from './circuit-breaker.ts'
export { CircuitBreaker } from './circuit-breaker.ts'
export { DeadlineTimer, setDeadline } from './deadline-timer.ts'
export type { Duration, DurationUnit, ParseDurationOptions } from './duration.ts'
export { DURATION_EXPECTED, parseDuration } from './duration.ts'
export type { RedisAddressOptions, RedisClientLike, ScrubRedisErrorOptions } from './redact.ts'
export {
  describeRedisFailure,
  kafkaAuthFailure,
  redactText,
  redisAuthFailure,
  redisOptionsOf,
  scrubRedisArgs,
  scrubRedisError,
  scrubRedisErrors,
} from './redact.ts'
export type { OptionRename } from './renamed-option.ts'
export { renamedOption } from './renamed-option.ts'
