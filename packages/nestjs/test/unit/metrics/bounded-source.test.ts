/**
 * `BoundedSource` (unit, a fake read the test settles): one read per scrape shared by its series,
 * at most one in flight across scrapes (a hung service gets no new call per scrape), a deadline,
 * and a read left from an earlier scrape never reported as a later scrape's figures once it is
 * older than the deadline.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BoundedSource } from '../../../src/metrics/bounded-source.js'

/** Let the `setImmediate` that ends a scrape run. */
const endScrape = () => vi.advanceTimersByTimeAsync(0)

describe('BoundedSource', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('one read per scrape, shared; up with the value', async () => {
    let calls = 0
    const source = new BoundedSource('x', 1_000, () => {
      calls++
      return Promise.resolve(calls)
    })
    const [a, b] = await Promise.all([source.value(), source.value()])
    expect([a, b, calls]).toEqual([1, 1, 1])
    await endScrape()
    expect(await source.value()).toBe(2)
  })

  it('absent when the provider is not registered; down when the read throws or rejects', async () => {
    expect(await new BoundedSource('x', 1_000, () => undefined).outcome()).toEqual({ state: 'absent' })
    const throwing = new BoundedSource('x', 1_000, () => {
      throw new Error('boom')
    })
    expect(await throwing.outcome()).toMatchObject({ state: 'down', reason: 'error' })
    const rejecting = new BoundedSource('x', 1_000, () => Promise.reject(new Error('ECONNREFUSED')))
    expect(await rejecting.outcome()).toMatchObject({ state: 'down', reason: 'error' })
  })

  it('a hung read: down at the deadline, no new call while it is pending, the old one never counted', async () => {
    let calls = 0
    let settle: ((value: number) => void) | undefined
    const source = new BoundedSource('x', 1_000, () => {
      calls++
      return new Promise<number>((resolve) => {
        settle = resolve
      })
    })
    const first = source.outcome()
    await vi.advanceTimersByTimeAsync(999)
    let outcome: unknown
    void first.then((o) => (outcome = o))
    await vi.advanceTimersByTimeAsync(0)
    expect(outcome).toBeUndefined()
    await vi.advanceTimersByTimeAsync(2)
    expect(outcome).toMatchObject({ state: 'down', reason: 'timeout' })
    await endScrape()
    // Scrapes while the read is still pending: down at once, and no second call.
    for (let i = 0; i < 3; i++) {
      expect(await source.outcome()).toMatchObject({ state: 'down', reason: 'timeout' })
      await endScrape()
    }
    expect(calls).toBe(1)
    // The old read answers: its figures are not this scrape's; the next scrape reads afresh.
    settle?.(41)
    await vi.advanceTimersByTimeAsync(0)
    const fresh = source.outcome()
    settle?.(42)
    expect(await fresh).toMatchObject({ state: 'up', value: 42 })
    expect(calls).toBe(2)
  })

  it('a scrape arriving while another still waits shares its read and its deadline', async () => {
    let settle: ((value: number) => void) | undefined
    let calls = 0
    const source = new BoundedSource('x', 1_000, () => {
      calls++
      return new Promise<number>((resolve) => {
        settle = resolve
      })
    })
    void source.outcome()
    await vi.advanceTimersByTimeAsync(400)
    await endScrape()
    // The first scrape still waits (its deadline is at 1000 ms): the second shares it.
    const second = source.outcome()
    settle?.(7)
    expect(await second).toMatchObject({ state: 'up', value: 7 })
    expect(calls).toBe(1)
  })
})
