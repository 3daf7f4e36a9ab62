/**
 * Cache metrics as OpenTelemetry observable instruments, read from each cache's `stats()` in one
 * batch callback per collection (nothing on the cache's hot path).
 */
import type { Meter, ObservableCounter, ObservableGauge } from '@opentelemetry/api'
import type { CacheStatsSource } from '../metrics/cache-metrics.js'

/**
 * Register the cache instruments on `meter` (`ayala.cache.hits{tier}`, `ayala.cache.misses`,
 * `ayala.cache.stale_served`, `ayala.cache.loader.calls`, `ayala.cache.loader.errors`,
 * `ayala.cache.coalesced`, `ayala.cache.l2.errors`, `ayala.cache.l1.entries`,
 * `ayala.cache.l1.bytes`, `ayala.cache.bus.connected`), attributes `ayala.cache.name` and
 * `ayala.cache.namespace`. Returns the function that unregisters them.
 */
export function registerOtelCacheMetrics(
  meter: Meter,
  sources: () => readonly CacheStatsSource[],
): () => void {
  const counter = (name: string, description: string, unit = '{operation}'): ObservableCounter =>
    meter.createObservableCounter(name, { description, unit })
  const gauge = (name: string, description: string, unit: string): ObservableGauge =>
    meter.createObservableGauge(name, { description, unit })
  const hits = counter('ayala.cache.hits', 'Cache hits by tier')
  const misses = counter('ayala.cache.misses', 'Lookups that missed both tiers')
  const stale = counter('ayala.cache.stale_served', 'Stale values served (grace)')
  const loaderCalls = counter('ayala.cache.loader.calls', 'Loader runs')
  const loaderErrors = counter('ayala.cache.loader.errors', 'Loader runs that failed')
  const coalesced = counter('ayala.cache.coalesced', 'Callers that joined a load in flight')
  const l2Errors = counter('ayala.cache.l2.errors', 'Redis errors the cache tolerated')
  const entries = gauge('ayala.cache.l1.entries', 'Entries in the in-process tier', '{entry}')
  const bytes = gauge('ayala.cache.l1.bytes', 'Estimated bytes in the in-process tier', 'By')
  const bus = gauge('ayala.cache.bus.connected', '1 while the invalidation bus is connected', '1')
  const observables = [
    hits,
    misses,
    stale,
    loaderCalls,
    loaderErrors,
    coalesced,
    l2Errors,
    entries,
    bytes,
    bus,
  ]
  const callback: Parameters<Meter['addBatchObservableCallback']>[0] = (result) => {
    for (const source of sources()) {
      const s = source.stats()
      const attributes = { 'ayala.cache.name': source.name, 'ayala.cache.namespace': s.namespace }
      result.observe(hits, s.l1Hits, { ...attributes, 'ayala.cache.tier': 'l1' })
      result.observe(hits, s.l2Hits, { ...attributes, 'ayala.cache.tier': 'l2' })
      result.observe(misses, s.misses, attributes)
      result.observe(stale, s.staleServed, attributes)
      result.observe(loaderCalls, s.loaderCalls, attributes)
      result.observe(loaderErrors, s.loaderErrors, attributes)
      result.observe(coalesced, s.coalesced, attributes)
      result.observe(l2Errors, s.l2Errors, attributes)
      result.observe(entries, s.l1Entries, attributes)
      result.observe(bytes, s.l1Bytes, attributes)
      result.observe(bus, s.busConnected ? 1 : 0, attributes)
    }
  }
  meter.addBatchObservableCallback(callback, observables)
  return () => meter.removeBatchObservableCallback(callback, observables)
}
