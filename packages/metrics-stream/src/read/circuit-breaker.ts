/**
 * A consecutive-failure circuit breaker for dashboard reads (the same shape as `@ayala/cache`'s L2
 * breaker and `@ayala/search`'s read breaker; there is no shared private package yet, so the class
 * is repeated here rather than imported from another package's internals). Closed: every read goes
 * to Redis; `threshold` unavailability failures in a row (a read past its deadline, a refused or
 * closed connection) open it. Open: reads are refused at once (answered from the last snapshot,
 * marked stale, or with `E_STREAM_UNAVAILABLE`) until `cooldownMs` has passed; then exactly one
 * read is let through as a probe (half-open) while the others are still refused. The probe's
 * success closes the breaker, its failure opens it for another cooldown. So a dead or hung Redis
 * costs a caller at most one deadline per `threshold` reads, and nothing while the breaker is
 * open, and reads recover by themselves once Redis answers again.
 *
 * A Redis error reply (a wrong key type) means Redis is up: it counts as a success.
 */

/** State of a {@link CircuitBreaker}. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/** See the module note. @internal */
export class CircuitBreaker {
  state: BreakerState = 'closed'
  private failures = 0
  private openedAt = 0
  private probing = false

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
  ) {}

  /** May a call go through now? */
  allow(): boolean {
    if (this.state === 'closed') return true
    if (this.state === 'open') {
      if (Date.now() - this.openedAt < this.cooldownMs) return false
      this.state = 'half-open'
    }
    if (this.probing) return false
    this.probing = true
    return true
  }

  /** Milliseconds until an open breaker lets a probe through (0 when closed or half-open). */
  retryAfterMs(): number {
    if (this.state !== 'open') return 0
    return Math.max(0, this.cooldownMs - (Date.now() - this.openedAt))
  }

  success(): void {
    this.failures = 0
    this.probing = false
    this.state = 'closed'
  }

  /**
   * The call let through ended without telling whether Redis is up (a bad read range): release
   * the probe slot without changing the state (a half-open breaker is open again, and its next
   * call after the cooldown probes).
   */
  release(): void {
    if (!this.probing) return
    this.probing = false
    if (this.state === 'half-open') this.state = 'open'
  }

  failure(): void {
    this.failures++
    if (this.state === 'half-open' || (this.state === 'closed' && this.failures >= this.threshold)) {
      this.probing = false
      this.openedAt = Date.now()
      this.state = 'open'
    }
  }
}
