export type { Duration, DurationUnit, ParseDurationOptions } from './duration.ts'
export { DURATION_EXPECTED, parseDuration } from './duration.ts'
