import { LatencyHistogram } from '@ayala/search'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { registerSearchMetrics, type SearchStatsSource } from '../../../src/metrics/index.js'
import { parsePrometheusText, samples, sampleValue } from '../../helpers/prometheus-parser.js'

function source(latencies: number[]): SearchStatsSource {
  const histogram = new LatencyHistogram()
  for (const ms of latencies) histogram.record(ms)
  return {
    latency: () => histogram.snapshot(),
    bulkStats: () => ({ indexed: 0, failed: 0, retries: 0, requests: 0, bytes: 0 }),
  }
}

const name = 'ayala_search_request_duration_seconds'

describe('registerSearchMetrics', () => {
  it('exports the search latency as a histogram in seconds, and no quantile gauge by default', async () => {
    const registry = new Registry()
    const client = source([0.5, 3, 3, 40, 700, 12_000])
    registerSearchMetrics(registry, 'ayala_', () => client)
    const text = await registry.metrics()
    const families = parsePrometheusText(text)
    expect(families.get(name)?.type).toBe('histogram')
    const bucket = (le: string) => sampleValue(families, name, `${name}_bucket`, { le })
    expect(bucket('0.001')).toBe(1)
    expect(bucket('0.005')).toBe(3)
    expect(bucket('0.05')).toBe(4)
    expect(bucket('1')).toBe(5)
    expect(bucket('10')).toBe(5)
    expect(bucket('+Inf')).toBe(6)
    expect(sampleValue(families, name, `${name}_count`)).toBe(6)
    expect(sampleValue(families, name, `${name}_sum`)).toBeCloseTo(12.7465, 9)
    expect(sampleValue(families, 'ayala_search_requests_total', 'ayala_search_requests_total')).toBe(6)
    expect(families.has('ayala_search_latency_seconds')).toBe(false)
    expect(text).not.toMatch(/quantile=/)
  })

  it('keeps the deprecated quantile gauge behind legacyLatencyGauge', async () => {
    const registry = new Registry()
    registerSearchMetrics(registry, 'ayala_', () => source([10, 20]), { legacyLatencyGauge: true })
    const families = parsePrometheusText(await registry.metrics())
    const gauge = 'ayala_search_latency_seconds'
    expect(families.get(gauge)?.type).toBe('gauge')
    expect(samples(families, gauge, gauge).map((s) => s.labels.quantile)).toEqual(['0.5', '0.9', '0.99', '1'])
    expect(sampleValue(families, name, `${name}_count`)).toBe(2)
  })

  it('exports an empty histogram when no search client is registered', async () => {
    const registry = new Registry()
    registerSearchMetrics(registry, 'ayala_', () => undefined)
    const families = parsePrometheusText(await registry.metrics())
    expect(samples(families, name, `${name}_count`)).toEqual([])
  })
})
