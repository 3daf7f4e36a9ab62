import { Counter, Histogram, Registry, Summary } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { parsePrometheusText, samples, sampleValue } from '../helpers/prometheus-parser.js'

describe('parsePrometheusText (test support)', () => {
  it("reads prom-client's own output: types, labels with escapes, buckets, quantiles", async () => {
    const registry = new Registry()
    const counter = new Counter({
      name: 'c_total',
      help: 'a counter',
      labelNames: ['route'],
      registers: [registry],
    })
    const histogram = new Histogram({
      name: 'h_seconds',
      help: 'h',
      buckets: [0.1, 1],
      registers: [registry],
    })
    const summary = new Summary({ name: 's_seconds', help: 's', percentiles: [0.5], registers: [registry] })
    counter.inc({ route: 'a "quoted"\\path\nline' }, 3)
    histogram.observe(0.5)
    histogram.observe(2)
    summary.observe(4)
    const families = parsePrometheusText(await registry.metrics())

    expect(families.get('c_total')?.type).toBe('counter')
    expect(sampleValue(families, 'c_total', 'c_total', { route: 'a "quoted"\\path\nline' })).toBe(3)
    expect(families.get('h_seconds')?.type).toBe('histogram')
    expect(samples(families, 'h_seconds', 'h_seconds_bucket').map((s) => [s.labels.le, s.value])).toEqual([
      ['0.1', 0],
      ['1', 1],
      ['+Inf', 2],
    ])
    expect(sampleValue(families, 'h_seconds', 'h_seconds_count')).toBe(2)
    expect(sampleValue(families, 's_seconds', 's_seconds', { quantile: '0.5' })).toBe(4)
  })

  it('rejects malformed lines', () => {
    expect(() => parsePrometheusText('metric{route="x} 1')).toThrow(/unterminated/)
    expect(() => parsePrometheusText('metric one')).toThrow(/not a sample value/)
  })
})
