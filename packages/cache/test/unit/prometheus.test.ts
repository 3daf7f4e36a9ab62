import { describe, expect, it } from 'vitest'
import { createCache, prometheusMetrics } from '../../src/index.js'

describe('prometheusMetrics', () => {
  it('renders counters and gauges per namespace in the text format', async () => {
    const a = createCache({ namespace: 'invoices' })
    const b = createCache({ namespace: 'clients' })
    await a.getOrSet('k', async () => 1)
    await a.getOrSet('k', async () => 1)
    const text = prometheusMetrics([a, b])
    expect(text).toContain('# TYPE ayala_cache_hits_total counter')
    expect(text).toContain('ayala_cache_hits_total{namespace="invoices",tier="l1"} 1')
    expect(text).toContain('ayala_cache_misses_total{namespace="invoices"} 1')
    expect(text).toContain('ayala_cache_loader_calls_total{namespace="clients"} 0')
    expect(text).toContain('ayala_cache_l1_entries{namespace="invoices"} 1')
    expect(text).toContain('ayala_cache_breaker_open{namespace="invoices"} 0')
    expect(text.match(/# TYPE ayala_cache_hits_total/g)).toHaveLength(1)
    expect(text.endsWith('\n')).toBe(true)
  })
})
