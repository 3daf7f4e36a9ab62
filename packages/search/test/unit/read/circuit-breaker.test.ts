import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CircuitBreaker } from '../../../src/read/circuit-breaker.js'

describe('search circuit breaker', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('opens after N consecutive failures, probes once after the cool-down, closes on success', () => {
    const states: string[] = []
    const breaker = new CircuitBreaker(3, 2_000, (state) => states.push(state))
    breaker.failure()
    breaker.success() // an answer resets the count
    breaker.failure()
    breaker.failure()
    expect(breaker.state).toBe('closed')
    breaker.failure()
    expect(breaker.state).toBe('open')
    expect(breaker.allow()).toBe(false)
    expect(breaker.retryAfterMs()).toBe(2_000)
    vi.advanceTimersByTime(2_000)
    expect(breaker.allow()).toBe(true) // the probe
    expect(breaker.state).toBe('half-open')
    expect(breaker.allow()).toBe(false) // only one probe at a time
    breaker.failure()
    expect(breaker.state).toBe('open')
    vi.advanceTimersByTime(2_000)
    expect(breaker.allow()).toBe(true)
    breaker.success()
    expect(breaker.state).toBe('closed')
    expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed'])
  })
})
