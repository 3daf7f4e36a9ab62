/** The L2 circuit breaker (moved from internals.test.ts). */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CircuitBreaker } from '../../../src/tiers/circuit-breaker.js'

describe('circuit breaker', () => {
  afterEach(() => vi.useRealTimers())

  it('opens after N failures, lets one probe through after the cooldown, closes on success', () => {
    vi.useFakeTimers()
    const states: string[] = []
    const breaker = new CircuitBreaker(3, 1_000, (s) => states.push(s))
    for (let i = 0; i < 3; i++) {
      expect(breaker.allow()).toBe(true)
      breaker.failure()
    }
    expect(breaker.state).toBe('open')
    expect(breaker.allow()).toBe(false)
    vi.advanceTimersByTime(1_000)
    expect(breaker.allow()).toBe(true) // the probe
    expect(breaker.allow()).toBe(false) // only one
    breaker.failure()
    expect(breaker.state).toBe('open')
    vi.advanceTimersByTime(1_000)
    expect(breaker.allow()).toBe(true)
    breaker.success()
    expect(breaker.state).toBe('closed')
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed'])
  })
})
