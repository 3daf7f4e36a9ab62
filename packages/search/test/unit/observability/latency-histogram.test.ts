import { describe, expect, it } from 'vitest'
import { LatencyHistogram } from '../../../src/index.js'

describe('LatencyHistogram', () => {
  it('reports quantiles within one bucket (~12 %) of the true value', () => {
    const histogram = new LatencyHistogram()
    for (let i = 1; i <= 1_000; i++) histogram.record(i / 10) // 0.1 .. 100 ms
    const snap = histogram.snapshot()
    expect(snap.count).toBe(1_000)
    expect(snap.max).toBe(100)
    expect(snap.p50).toBeGreaterThanOrEqual(50)
    expect(snap.p50).toBeLessThanOrEqual(50 * 1.13)
    expect(snap.p99).toBeGreaterThanOrEqual(99)
    expect(snap.p99).toBeLessThanOrEqual(100)
    expect(snap.mean).toBeCloseTo(50.05, 5)
    histogram.reset()
    expect(histogram.snapshot()).toMatchObject({ count: 0, p50: 0, max: 0 })
  })
})
