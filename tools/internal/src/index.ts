export type { BreakerState } from './circuit-breaker.ts'
export { CircuitBreaker } from './circuit-breaker.ts'
export type { Duration, DurationUnit, ParseDurationOptions } from './duration.ts'
export { DURATION_EXPECTED, parseDuration } from './duration.ts'
