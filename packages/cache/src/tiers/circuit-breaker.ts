/**
 * The L2 circuit breaker: the consecutive-failure breaker all `@ayala` packages share
 * (`@ayala/internal`, bundled at build time; its module note argues the mechanism). Here a
 * failure is an L2 call past `redisTimeout` or a lost connection; `trip()` opens it at once when
 * the link is known lost (a closed connection, a hung bus), and auto-recovery's probe closes it.
 */
export { CircuitBreaker } from '@ayala/internal'

/** State of the L2 circuit breaker. */
export type BreakerState = 'closed' | 'open' | 'half-open'
