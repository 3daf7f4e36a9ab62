export type { Duration, DurationUnit } from './duration.js'
export { toMilliseconds } from './duration.js'
export type { AyalaNestErrorCode, AyalaNestErrorContext } from './errors.js'
export { AyalaNestError, HealthCheckFailedError, InvalidOptionError } from './errors.js'
