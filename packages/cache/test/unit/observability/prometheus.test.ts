import { describe, expect, it } from 'vitest'
import { CACHE_METRICS, createCache, prometheusMetrics } from '../../../src/index.js'

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
    expect(text).toContain('ayala_cache_breaker_state{namespace="invoices",state="none"} 1')
    expect(text).toContain('ayala_cache_breaker_state{namespace="invoices",state="closed"} 0')
    expect(text.match(/# TYPE ayala_cache_hits_total/g)).toHaveLength(1)
    expect(text.endsWith('\n')).toBe(true)
  })

  it('renders exactly the series of CACHE_METRICS, under the given prefix', () => {
    const cache = createCache({ namespace: 'a"b' })
    const text = prometheusMetrics(cache, { prefix: 'app_' })
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => `${name} ${type}`)
    expect(types).toEqual(CACHE_METRICS.map((m) => `app_${m.name} ${m.type}`))
    const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'))
    const expected = CACHE_METRICS.reduce((n, m) => n + m.read(cache.stats()).length, 0)
    expect(samples).toHaveLength(expected)
    expect(text).toContain('app_cache_misses_total{namespace="a\\"b"} 0')
  })
})

describe('CACHE_METRICS', () => {
  it('has unique names, and every sample carries exactly its labels', async () => {
    const cache = createCache({ namespace: 'table' })
    await cache.getOrSet('k', () => 'v')
    const stats = cache.stats()
    expect(new Set(CACHE_METRICS.map((m) => m.name)).size).toBe(CACHE_METRICS.length)
    for (const metric of CACHE_METRICS) {
      expect(metric.labels[0]).toBe('namespace')
      expect(metric.name.endsWith('_total')).toBe(metric.type === 'counter')
      const samples = metric.read(stats)
      expect(samples.length).toBeGreaterThan(0)
      for (const sample of samples) {
        expect(Object.keys(sample.labels).sort()).toEqual([...metric.labels].sort())
        expect(sample.labels.namespace).toBe('table')
        expect(Number.isFinite(sample.value)).toBe(true)
      }
    }
  })

  it('reads the values from stats() (seconds for loader time, 1/0 for states)', () => {
    const stats = {
      ...createCache({ namespace: 'fake' }).stats(),
      l2Hits: 7,
      loaderTimeMs: 1500,
      busIn: 3,
      breaker: 'half-open' as const,
    }
    const value = (name: string, labels: Record<string, string> = {}) =>
      CACHE_METRICS.find((m) => m.name === name)
        ?.read(stats)
        .find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
    expect(value('cache_hits_total', { tier: 'l2' })).toBe(7)
    expect(value('cache_loader_seconds_total')).toBe(1.5)
    expect(value('cache_bus_messages_total', { direction: 'in' })).toBe(3)
    expect(value('cache_breaker_open')).toBe(1)
    expect(value('cache_breaker_state', { state: 'half-open' })).toBe(1)
    expect(value('cache_breaker_state', { state: 'closed' })).toBe(0)
  })
})
