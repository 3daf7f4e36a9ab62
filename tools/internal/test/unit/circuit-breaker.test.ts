import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type BreakerState, CircuitBreaker } from '../../src/index.ts'

describe('CircuitBreaker', () => {
  let changes: BreakerState[]
  let breaker: CircuitBreaker
  beforeEach(() => {
    vi.useFakeTimers()
    changes = []
    breaker = new CircuitBreaker(3, 1_000, (state) => changes.push(state))
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('opens after threshold failures in a row, not before; a success resets the count', () => {
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    expect(breaker.state).toBe('closed')
    breaker.failure()
    expect(breaker.state).toBe('open')
    expect(breaker.allow()).toBe(false)
    expect(breaker.retryAfterMs()).toBe(1_000)
  })

  it('lets exactly one probe through after the cooldown; its success closes it', () => {
    for (let i = 0; i < 3; i++) breaker.failure()
    vi.advanceTimersByTime(999)
    expect(breaker.allow()).toBe(false)
    vi.advanceTimersByTime(1)
    expect(breaker.allow()).toBe(true)
    expect(breaker.state).toBe('half-open')
    expect(breaker.allow()).toBe(false)
    breaker.success()
    expect(breaker.state).toBe('closed')
    expect(changes).toEqual(['open', 'half-open', 'closed'])
  })

  it("a probe's failure opens it for another cooldown; release gives the slot back", () => {
    for (let i = 0; i < 3; i++) breaker.failure()
    vi.advanceTimersByTime(1_000)
    expect(breaker.allow()).toBe(true)
    breaker.failure()
    expect(breaker.state).toBe('open')
    expect(breaker.retryAfterMs()).toBe(1_000)
    vi.advanceTimersByTime(1_000)
    expect(breaker.allow()).toBe(true)
    breaker.release()
    expect(breaker.state).toBe('open')
    expect(breaker.allow()).toBe(true) // the cooldown had passed: the next call probes
  })

  it('trip opens at once whatever the count', () => {
    breaker.trip()
    expect(breaker.state).toBe('open')
    expect(breaker.allow()).toBe(false)
    breaker.trip()
    expect(changes).toEqual(['open'])
  })
})
