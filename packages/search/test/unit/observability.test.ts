import { describe, expect, it } from 'vitest'
import { toMs } from '../../src/duration.js'
import { LatencyHistogram, SearchError } from '../../src/index.js'

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

describe('durations', () => {
  it('parse numbers as ms and strings with units', () => {
    expect(toMs(250, 'x')).toBe(250)
    expect(toMs('250ms', 'x')).toBe(250)
    expect(toMs('5s', 'x')).toBe(5_000)
    expect(toMs('10m', 'x')).toBe(600_000)
    expect(toMs('1h', 'x')).toBe(3_600_000)
    expect(toMs('7d', 'x')).toBe(604_800_000)
  })
  it('reject anything else naming the option', () => {
    for (const bad of [-1, Number.NaN, '5 s', '5', 'fast']) {
      expect(() => toMs(bad as never, 'keepAlive')).toThrowError(SearchError)
      expect(() => toMs(bad as never, 'keepAlive')).toThrowError(/keepAlive/)
    }
  })
})
