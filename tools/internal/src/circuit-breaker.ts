/**
 * The consecutive-failure circuit breaker every `@ayala` package uses in front of a dependency
 * (the cache's Redis tier, the search client's interactive reads, the dashboard's reads).
 *
 * Closed: every call goes through; `threshold` failures in a row open it. Open: calls are refused
 * at once (no waiting on a dead or hung server) until `cooldownMs` has passed; then exactly one
 * call is let through as a probe (half-open) while the others are still refused. The probe's
 * success closes the breaker, its failure opens it for another cooldown. So a caller recovers by
 * itself once the dependency answers again, and a dependency that is down costs nothing while the
 * breaker is open. What counts as a failure is the caller's to say: only unavailability (a
 * timeout, a refused or reset connection, an overloaded answer), never a refusal that proves the
 * server is up.
 */

/** State of a {@link CircuitBreaker}. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/** See the module note. */
export class CircuitBreaker {
  state: BreakerState = 'closed'
  private failures = 0
  private openedAt = 0
  private probing = false

  /**
   * @param threshold - failures in a row that open the breaker
   * @param cooldownMs - how long it stays open before a probe
   * @param onChange - told every state change (for events and metrics)
   */
  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly onChange?: ((state: BreakerState) => void) | undefined,
  ) {}

  /** May a call go through now? (Half-open: true for the one probe, false for the others.) */
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

  /** The call succeeded: the dependency is up. */
  success(): void {
    this.failures = 0
    this.probing = false
    if (this.state !== 'closed') this.set('closed')
  }

  /** The call failed for unavailability. */
  failure(): void {
    this.failures++
    if (this.state === 'half-open' || (this.state === 'closed' && this.failures >= this.threshold)) {
      this.probing = false
      this.openedAt = Date.now()
      this.set('open')
    }
  }

  /**
   * The call let through ended without telling whether the dependency is up (a bad argument):
   * release the probe slot without changing the counts (a half-open breaker is open again, and its
   * next call after the cooldown probes).
   */
  release(): void {
    if (!this.probing) return
    this.probing = false
    if (this.state === 'half-open') this.set('open')
  }

  /**
   * Open now, whatever the count: the link is known lost (the connection closed, a hung link). The
   * next success (a recovery probe, or the half-open probe after `cooldownMs`) closes it.
   */
  trip(): void {
    this.probing = false
    this.openedAt = Date.now()
    if (this.state !== 'open') this.set('open')
  }

  private set(state: BreakerState): void {
    this.state = state
    this.onChange?.(state)
  }
}
