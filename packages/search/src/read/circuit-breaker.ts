/**
 * The interactive reads' circuit breaker: the consecutive-failure breaker all `@ayala` packages
 * share (`@ayala/internal`, bundled at build time; its module note argues the mechanism). Only
 * unavailability counts as a failure (a timeout, a refused or reset connection, 429 and 502-504):
 * an engine that answers 400 or 401 is up, and such an answer counts as a success.
 */
export { CircuitBreaker } from '@ayala/internal'

/** State of the search client's read breaker. */
export type BreakerState = 'closed' | 'open' | 'half-open'
