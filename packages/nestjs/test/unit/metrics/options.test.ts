import { describe, expect, it } from 'vitest'
import { toMilliseconds } from '../../../src/index.js'
import { DEFAULT_PERFORMANCE_OPTIONS, resolvePerformanceOptions } from '../../../src/metrics/index.js'

describe('resolvePerformanceOptions', () => {
  it('resolves the defaults into a frozen object', () => {
    const resolved = resolvePerformanceOptions()
    expect(Object.isFrozen(resolved)).toBe(true)
    expect(resolved.slowThresholdMs).toBe(500)
    expect(resolved.quantiles).toEqual(DEFAULT_PERFORMANCE_OPTIONS.quantiles)
    // Latency is a histogram only unless a summary is asked for (quantiles cannot be aggregated).
    expect(resolved.quantiles).toBe(false)
    expect(resolved.quantileWindowMs).toBe(600_000)
    expect(resolved.ignoreRoutes.has('/metrics')).toBe(true)
    expect(resolved.measureStreams).toBe(false)
    expect(resolved.streamRoutes.size).toBe(0)
    expect(resolved.legacySearchLatencyGauge).toBe(false)
  })

  it.each([
    [{ slowThreshold: -1 }, 'slowThreshold'],
    [{ prefix: 'bad-prefix' }, 'prefix'],
    [{ buckets: [] }, 'buckets'],
    [{ quantiles: [1.5] }, 'quantiles'],
    [{ logSlowRequests: 'yes' }, 'logSlowRequests'],
    [{ onSlowRequest: 'alert' }, 'onSlowRequest'],
    [{ ignoreRoutes: [1] }, 'ignoreRoutes'],
    [{ streamRoutes: '/jobs/:id/wait' }, 'streamRoutes'],
    [{ measureStreams: 'yes' }, 'measureStreams'],
    [{ legacySearchLatencyGauge: 1 }, 'legacySearchLatencyGauge'],
    [{ slowTreshold: '1s' }, 'slowTreshold'],
  ])('rejects %j naming %s', (options, option) => {
    expect(() => resolvePerformanceOptions(options as never)).toThrow(expect.objectContaining({ option }))
  })
})

describe('toMilliseconds', () => {
  it('reads numbers as milliseconds and strings with units', () => {
    expect(toMilliseconds(250, 'x')).toBe(250)
    expect(toMilliseconds('1.5s', 'x')).toBe(1_500)
    expect(toMilliseconds('10m', 'x')).toBe(600_000)
    expect(() => toMilliseconds('10 minutes' as never, 'x')).toThrow(
      expect.objectContaining({ code: 'E_NEST_INVALID_DURATION', option: 'x' }),
    )
  })
})
