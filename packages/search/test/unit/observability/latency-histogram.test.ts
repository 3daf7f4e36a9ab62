import { describe, expect, it } from 'vitest'
import { LatencyHistogram } from '../../../src/observability/latency-histogram.js'

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

  it('counts samples into fixed cumulative bounds for a Prometheus histogram', () => {
    const histogram = new LatencyHistogram()
    for (const ms of [0.4, 1, 1.2, 7, 7, 99, 100, 100.5, 4_000, 60_000]) histogram.record(ms)
    const snap = histogram.snapshot()
    expect(snap.sum).toBeCloseTo(64_316.1, 6)
    const at = (le: number) => snap.buckets.find((b) => b.le === le)?.count
    // A sample equal to a bound is in that bound's bucket (Prometheus's `le`: less or equal).
    expect(at(1)).toBe(2)
    expect(at(2.5)).toBe(3)
    expect(at(10)).toBe(5)
    expect(at(100)).toBe(7)
    expect(at(250)).toBe(8)
    expect(at(5_000)).toBe(9)
    expect(at(10_000)).toBe(9)
    expect(snap.buckets.at(-1)).toEqual({ le: Number.POSITIVE_INFINITY, count: 10 })
    expect(snap.buckets.map((b) => b.le).slice(0, -1)).toEqual([
      1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000,
    ])
    histogram.reset()
    expect(histogram.snapshot().buckets.every((b) => b.count === 0)).toBe(true)
    expect(histogram.snapshot().sum).toBe(0)
  })

  it('takes its own bounds and refuses bounds that do not increase', () => {
    const histogram = new LatencyHistogram([5, 50])
    histogram.record(5)
    histogram.record(6)
    expect(histogram.buckets()).toEqual([
      { le: 5, count: 1 },
      { le: 50, count: 2 },
      { le: Number.POSITIVE_INFINITY, count: 2 },
    ])
    expect(() => new LatencyHistogram([5, 5])).toThrow(RangeError)
    expect(() => new LatencyHistogram([0, 5])).toThrow(RangeError)
  })
})
