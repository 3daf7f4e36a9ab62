/**
 * A consecutive-failure circuit breaker for the interactive reads (the same shape as
 * `@ayala/cache`'s L2 breaker; there is no shared private package yet, so the class is repeated
 * here rather than imported from another package's internals). Closed: every call goes through;
 * `threshold` unavailability failures in a row open it. Open: calls are refused at once (no
 * waiting on a dead or hung engine) until `cooldownMs` has passed; then exactly one call is let
 * through as a probe (half-open) while the others are still refused. The probe's success closes
 * the breaker, its failure opens it for another cooldown. So searches recover by themselves once
 * the engine answers again, and an engine that is down costs a caller nothing while it is open.
 *
 * Only unavailability counts as a failure (a timeout, a refused or reset connection, 429 and
 * 502-504): an engine that answers 400 or 401 is up, and such an answer counts as a success.
 */

/** State of a {@link CircuitBreaker}. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/** See the module note. */
export class CircuitBreaker {
  state: BreakerState = 'closed'
  private failures = 0
  private openedAt = 0
  private probing = false

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly onChange: (state: BreakerState) => void,
  ) {}

  /** May a call go through now? */
  allow(): boolean {
    if (this.state === 'closed') return true
    if (this.state === 'open') {
      if (Date.now() - this.openedAt < this.cooldownMs) return false
      this.set('half-open')
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
    if (this.state !== 'closed') this.set('closed')
  }

  failure(): void {
    this.failures++
    if (this.state === 'half-open' || (this.state === 'closed' && this.failures >= this.threshold)) {
      this.probing = false
      this.openedAt = Date.now()
      this.set('open')
    }
  }

  private set(state: BreakerState): void {
    this.state = state
    this.onChange(state)
  }
}
