/**
 * A consecutive-failure circuit breaker. Closed: every call goes through; `threshold` failures
 * in a row open it. Open: calls are refused at once (no waiting on a dead server) until
 * `cooldownMs` has passed; then exactly one call is let through as a probe (half-open). The
 * probe's success closes the breaker, its failure opens it for another cooldown. So the cache
 * recovers by itself once Redis answers again.
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

  /**
   * Open now, whatever the count: the link is known lost (the connection closed, a hung bus). The
   * next success (auto-recovery's probe, or the half-open probe after `cooldownMs`) closes it.
   */
  trip(): void {
    this.probing = false
    this.openedAt = Date.now()
    if (this.state !== 'open') this.set('open')
  }

  private set(state: BreakerState): void {
    this.state = state
    this.onChange(state)
  }
}
