/**
 * The dashboard reads' circuit breaker: the consecutive-failure breaker all `@ayala` packages
 * share (`@ayala/internal`, bundled at build time; its module note argues the mechanism). A read
 * past its deadline or a refused or closed connection is a failure; while open, reads are answered
 * from the last snapshot (marked stale) or with `E_STREAM_UNAVAILABLE`. A Redis error reply (a
 * wrong key type) means Redis is up: it counts as a success; a bad read range `release()`s a probe.
 * @internal
 */
export { CircuitBreaker } from '@ayala/internal'

/** State of the dashboard's read breaker. */
export type BreakerState = 'closed' | 'open' | 'half-open'
