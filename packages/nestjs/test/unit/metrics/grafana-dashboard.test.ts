import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import {
  createHttpMetrics,
  registerCacheMetrics,
  registerConsumerMetrics,
  registerSearchMetrics,
  resolvePerformanceOptions,
} from '../../../src/metrics/index.js'

const dashboardPath = join(import.meta.dirname, '../../../../../docs/nestjs-grafana-dashboard.json')

interface Panel {
  title: string
  targets?: Array<{ expr: string }>
}

describe('docs/nestjs-grafana-dashboard.json', () => {
  it('queries only metrics this package registers', () => {
    const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as { panels: Panel[]; uid: string }
    const registry = new Registry()
    const options = resolvePerformanceOptions({ registry })
    createHttpMetrics(registry, options)
    registerCacheMetrics(registry, options.prefix, () => [])
    registerSearchMetrics(registry, options.prefix, () => undefined)
    registerConsumerMetrics(registry, options.prefix, () => undefined)
    const registered = new Set(registry.getMetricsAsArray().map((m) => m.name))

    const used = new Set<string>()
    for (const panel of dashboard.panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0)
      for (const target of panel.targets ?? []) {
        for (const [name] of target.expr.matchAll(/ayala_[a-z0-9_]+/g))
          used.add(name.replace(/_(bucket|count|sum)$/, ''))
      }
    }
    expect(used.size).toBeGreaterThan(10)
    expect([...used].filter((name) => !registered.has(name))).toEqual([])
  })
})
