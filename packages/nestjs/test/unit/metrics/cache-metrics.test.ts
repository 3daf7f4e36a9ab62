import { CACHE_METRICS, createCache, prometheusMetrics } from '@ayala/cache'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { registerCacheMetrics } from '../../../src/metrics/cache-metrics.js'
import { parsePrometheusText } from '../../helpers/prometheus-parser.js'

describe('registerCacheMetrics', () => {
  it("registers @ayala/cache's CACHE_METRICS: the same families, types, help and samples as prometheusMetrics()", async () => {
    const invoices = createCache({ namespace: 'invoices' })
    const clients = createCache({ namespace: 'clients' })
    await invoices.getOrSet('a', () => 1)
    await invoices.getOrSet('a', () => 1)
    await clients.getOrSet('b', () => undefined)
    const registry = new Registry()
    registerCacheMetrics(registry, 'app_', () => [
      { name: 'default', stats: () => invoices.stats() },
      { name: 'clients', stats: () => clients.stats() },
    ])
    const fromRegistry = parsePrometheusText(await registry.metrics())
    const fromText = parsePrometheusText(prometheusMetrics([invoices, clients], { prefix: 'app_' }))

    expect([...fromRegistry.keys()].sort()).toEqual(CACHE_METRICS.map((m) => `app_${m.name}`).sort())
    for (const [name, text] of fromText) {
      const family = fromRegistry.get(name)
      expect(family?.type, name).toBe(text.type)
      expect(family?.help, name).toBe(text.help)
      // Same samples, with the module's `cache` label added in front of the table's labels.
      const strip = (samples: typeof text.samples) =>
        samples
          .map(({ labels: { cache: _cache, ...labels }, value }) => JSON.stringify([labels, value]))
          .sort()
      expect(strip(family?.samples ?? []), name).toEqual(strip(text.samples))
      for (const sample of family?.samples ?? [])
        expect(sample.labels.cache).toBe(sample.labels.namespace === 'invoices' ? 'default' : 'clients')
    }
    expect(
      fromRegistry
        .get('app_cache_hits_total')
        ?.samples.find((s) => s.labels.cache === 'default' && s.labels.tier === 'l1')?.value,
    ).toBe(1)
    await Promise.all([invoices.close(), clients.close()])
  })

  it('leaves a metric already registered under the same name alone', async () => {
    const registry = new Registry()
    const cache = createCache({ namespace: 'twice' })
    registerCacheMetrics(registry, 'x_', () => [{ name: 'one', stats: () => cache.stats() }])
    registerCacheMetrics(registry, 'x_', () => [{ name: 'two', stats: () => cache.stats() }])
    const families = parsePrometheusText(await registry.metrics())
    expect(families.get('x_cache_misses_total')?.samples.map((s) => s.labels.cache)).toEqual(['one'])
    await cache.close()
  })
})
