import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../../src/errors.js'
import type { RequestEvent } from '../../../src/metrics/performance-events.js'
import {
  DEFAULT_REQUEST_METRICS_SINK_OPTIONS,
  REQUEST_METRICS_MAPPINGS,
  requestMetricsIlmPolicy,
  requestMetricsIsmPolicy,
  requestMetricsTemplate,
  resolveRequestMetricsSinkOptions,
} from '../../../src/search/index.js'
import { engineTimeValue } from '../../../src/search/request-metrics-data-stream.js'
import { ecsRequestDocument } from '../../../src/search/request-metrics-documents.js'

const event = (overrides: Partial<RequestEvent> = {}): RequestEvent => ({
  transport: 'http',
  method: 'GET',
  route: '/invoices/:id',
  statusCode: 200,
  durationMs: 12.3456789,
  cache: { l1Hits: 1, l2Hits: 1, misses: 0, stale: 0, coalesced: 0, bypassed: 0 },
  at: Date.UTC(2026, 11, 2, 10, 0, 0, 123),
  slow: false,
  path: '/invoices/42',
  ...overrides,
})

describe('request-metrics sink options', () => {
  it('defaults to the ECS data stream with 30 days of retention', () => {
    const resolved = resolveRequestMetricsSinkOptions()
    expect(resolved).toMatchObject({
      mode: 'data-stream',
      target: 'logs-ayala.requests-default',
      install: true,
      spec: {
        dataStream: 'logs-ayala.requests-default',
        retentionMs: 30 * 86_400_000,
        rolloverMaxAgeMs: 86_400_000,
        rolloverMaxPrimaryShardSize: '50gb',
      },
      document: {
        serviceName: 'unknown_service:node',
        dataset: 'ayala.requests',
        dataStream: { type: 'logs', dataset: 'ayala.requests', namespace: 'default' },
        urlPath: true,
      },
      flushIntervalMs: 5_000,
      batchSize: 500,
      maxBuffer: 10_000,
      retries: 2,
    })
    expect(Object.isFrozen(resolved)).toBe(true)
    expect(DEFAULT_REQUEST_METRICS_SINK_OPTIONS.retention).toBe('30d')
  })

  it('takes a name outside the naming scheme without data_stream fields', () => {
    const resolved = resolveRequestMetricsSinkOptions({ dataStream: 'requests', retention: false })
    expect(resolved.document.dataStream).toBeUndefined()
    expect(resolved.document.dataset).toBe('ayala.requests')
    expect(resolved.spec.retentionMs).toBe(false)
  })

  it.each([
    [{ dataStream: 'Logs-Upper' }, 'dataStream'],
    [{ dataStream: 'has space' }, 'dataStream'],
    [{ dataStream: '_hidden' }, 'dataStream'],
    [{ dataStream: '.ds-logs-x-y' }, 'dataStream'],
    [{ retention: '10ms' }, 'retention'],
    [{ retention: 'forever' }, 'retention'],
    [{ rollover: { maxAge: '1d', maxSize: '1gb' } }, 'rollover.maxSize'],
    [{ rollover: { maxPrimaryShardSize: '50 gigabytes' } }, 'rollover.maxPrimaryShardSize'],
    [{ service: { name: '' } }, 'service.name'],
    [{ service: { nom: 'x' } }, 'service.nom'],
    [{ urlPath: 'yes' }, 'urlPath'],
    [{ install: 1 }, 'install'],
    [{ batchSize: 0 }, 'batchSize'],
    [{ indexName: 'x' }, 'indexName'],
    [{ index: 'request-metrics', retention: '7d' }, 'index'],
  ])('refuses %j, naming %s', (options, option) => {
    let error: unknown
    try {
      resolveRequestMetricsSinkOptions(options as never)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(InvalidOptionError)
    expect((error as InvalidOptionError).option).toBe(option)
  })

  it('keeps the legacy shape behind the deprecated index option, warning once', () => {
    const warnings: Array<{ code?: string }> = []
    const listen = (warning: Error & { code?: string }) => warnings.push(warning)
    process.on('warning', listen)
    try {
      const first = resolveRequestMetricsSinkOptions({ index: 'request-metrics' })
      resolveRequestMetricsSinkOptions({ index: 'request-metrics' })
      expect(first).toMatchObject({ mode: 'legacy-index', target: 'request-metrics' })
    } finally {
      process.off('warning', listen)
    }
    // The warning is emitted on the next tick; at most one per process.
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        expect(warnings.filter((w) => w.code === 'AYALA_NEST_SINK_INDEX').length).toBeLessThanOrEqual(1)
        resolve()
      }),
    )
  })
})

describe('engine time values', () => {
  it.each([
    [30 * 86_400_000, '30d'],
    [36 * 3_600_000, '36h'],
    [90 * 60_000, '90m'],
    [45_000, '45s'],
    [1_500, '1500ms'],
  ])('%d ms is %s', (ms, text) => {
    expect(engineTimeValue(ms)).toBe(text)
  })
})

describe('template and policies', () => {
  const spec = resolveRequestMetricsSinkOptions({ retention: '14d', rollover: { maxAge: '12h' } }).spec

  it('names the ILM policy in the Elasticsearch template only', () => {
    const es = requestMetricsTemplate(spec, 'elasticsearch')
    expect(es).toEqual({
      index_patterns: ['logs-ayala.requests-default'],
      data_stream: {},
      priority: 500,
      template: {
        settings: { 'index.lifecycle.name': 'ayala-logs-ayala.requests-default' },
        mappings: REQUEST_METRICS_MAPPINGS,
      },
    })
    expect(requestMetricsTemplate(spec, 'opensearch').template.settings).toEqual({})
    const none = resolveRequestMetricsSinkOptions({ retention: false }).spec
    expect(requestMetricsTemplate(none, 'elasticsearch').template.settings).toEqual({})
  })

  it('ILM: rollover in the hot phase, delete after the retention (documented ILM policy shape)', () => {
    expect(requestMetricsIlmPolicy(spec as never)).toEqual({
      phases: {
        hot: { min_age: '0ms', actions: { rollover: { max_age: '12h', max_primary_shard_size: '50gb' } } },
        delete: { min_age: '14d', actions: { delete: {} } },
      },
    })
  })

  it('ISM: rollover in hot, min_rollover_age to delete, attached to the data stream by ism_template', () => {
    expect(requestMetricsIsmPolicy(spec as never)).toEqual({
      default_state: 'hot',
      states: [
        {
          name: 'hot',
          actions: [{ rollover: { min_index_age: '12h', min_primary_shard_size: '50gb' } }],
          transitions: [{ state_name: 'delete', conditions: { min_rollover_age: '14d' } }],
        },
        { name: 'delete', actions: [{ delete: {} }], transitions: [] },
      ],
      ism_template: [{ index_patterns: ['logs-ayala.requests-default'], priority: 100 }],
    })
  })
})

describe('the ECS document', () => {
  const context = resolveRequestMetricsSinkOptions({
    service: { name: 'billing', version: '2.0.0', environment: 'prod' },
  }).document

  it('carries ECS fields and the SDK fields, duration in nanoseconds', () => {
    const document = ecsRequestDocument(event(), context)
    expect(document).toEqual({
      '@timestamp': '2026-12-02T10:00:00.123Z',
      ecs: { version: '8.11.0' },
      data_stream: { type: 'logs', dataset: 'ayala.requests', namespace: 'default' },
      event: {
        kind: 'event',
        category: ['web'],
        type: ['access'],
        outcome: 'success',
        dataset: 'ayala.requests',
        duration: 12_345_679,
      },
      service: { name: 'billing', version: '2.0.0', environment: 'prod' },
      host: { name: context.hostName },
      http: { request: { method: 'GET' }, response: { status_code: 200 } },
      url: { path: '/invoices/42' },
      ayala: {
        transport: 'http',
        route: '/invoices/:id',
        slow: false,
        cache: { hit: 1, l1_hits: 1, l2_hits: 1, stale: 0, misses: 0, coalesced: 0, bypassed: 0 },
      },
    })
  })

  it('hit is 0 with a miss, absent without lookups; failure on 5xx; url.path only when asked', () => {
    const miss = ecsRequestDocument(
      event({
        cache: { l1Hits: 2, l2Hits: 0, misses: 1, stale: 0, coalesced: 0, bypassed: 0 },
        statusCode: 503,
      }),
      context,
    ) as unknown as { ayala: { cache: { hit?: number } }; event: { outcome: string } }
    expect(miss.ayala.cache.hit).toBe(0)
    expect(miss.event.outcome).toBe('failure')
    const none = ecsRequestDocument(
      event({ cache: { l1Hits: 0, l2Hits: 0, misses: 0, stale: 0, coalesced: 1, bypassed: 2 } }),
      context,
    ) as unknown as { ayala: { cache: Record<string, number> } }
    expect('hit' in none.ayala.cache).toBe(false)
    const noPath = resolveRequestMetricsSinkOptions({ urlPath: false }).document
    expect('url' in ecsRequestDocument(event(), noPath)).toBe(false)
  })

  it('keeps non-HTTP calls out of http.*: the operation and status under ayala.*', () => {
    const rpc = ecsRequestDocument(
      event({ transport: 'rpc', method: 'REDIS', route: 'invoice.find', statusCode: 500, path: undefined }),
      context,
    )
    expect(rpc.http).toBeUndefined()
    expect(rpc.url).toBeUndefined()
    expect(rpc.ayala).toMatchObject({
      transport: 'rpc',
      operation: 'REDIS',
      route: 'invoice.find',
      status_code: 500,
    })
    expect((rpc.event as { category?: unknown }).category).toBeUndefined()
  })

  it('maps every field the document can carry', () => {
    const mapped = new Set<string>()
    const walk = (properties: Record<string, { properties?: unknown }>, prefix: string) => {
      for (const [name, value] of Object.entries(properties)) {
        if (value.properties) walk(value.properties as never, `${prefix}${name}.`)
        else mapped.add(`${prefix}${name}`)
      }
    }
    walk(REQUEST_METRICS_MAPPINGS.properties as never, '')
    const written = new Set<string>()
    const leaves = (value: unknown, prefix: string) => {
      if (value !== null && typeof value === 'object' && !Array.isArray(value))
        for (const [k, v] of Object.entries(value)) leaves(v, prefix === '' ? k : `${prefix}.${k}`)
      else written.add(prefix)
    }
    leaves(ecsRequestDocument(event(), context), '')
    leaves(ecsRequestDocument(event({ transport: 'rpc', path: undefined }), context), '')
    expect([...written].filter((f) => !mapped.has(f))).toEqual([])
  })
})
