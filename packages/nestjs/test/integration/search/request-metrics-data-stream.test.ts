/**
 * The request-metrics sink's data stream on both real engines: the template installed once and
 * then left alone (and restored when someone changed it), the ECS document as stored, and the
 * typed failures: an engine without a lifecycle API (the harness's Elasticsearch has no ILM, its
 * OpenSearch no ISM plugin: neither is on Maven Central) and an engine that cannot be reached.
 *
 * What the harness cannot show: ILM and ISM policies applied by a real engine (rollover,
 * deletion). The ILM body is parsed and validated by Elasticsearch's own x-pack-core code
 * (ilm-policy-parse.test.ts); the ISM body is checked against the documentation only (unit test).
 */
import 'reflect-metadata'
import { createSearchClient, type EngineKind, type SearchClient } from '@ayala/search'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Controller, Get, Param } from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RequestMetricsSetupError } from '../../../src/errors.js'
import { AyalaMetricsModule, PerformanceEvents, type RequestEvent } from '../../../src/metrics/index.js'
import {
  AYALA_SEARCH_CLIENT,
  AyalaRequestMetricsSinkModule,
  AyalaSearchModule,
  installRequestMetricsDataStream,
  REQUEST_METRICS_ECS_VERSION,
  RequestMetricsSink,
  type RequestMetricsSinkOptions,
  requestMetricsObjectName,
  resolveRequestMetricsSinkOptions,
} from '../../../src/search/index.js'
import { clearDataStream } from '../../helpers/data-stream.js'
import { baseUrl, waitFor } from '../../helpers/http.js'

@Controller('items')
class ItemsController {
  @Get(':id')
  find(@Param('id') id: string) {
    return { id }
  }
}

const services = serviceUrls()
const ENGINES: Array<{ engine: EngineKind; node: string }> = [
  { engine: 'elasticsearch', node: services.elasticsearch },
  { engine: 'opensearch', node: services.opensearch },
]
const DATA_STREAM = 'logs-ayala.requests-test'

async function startApp(node: string, engine: EngineKind, sink: RequestMetricsSinkOptions, retries?: number) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      AyalaMetricsModule.forRoot({ isGlobal: true, path: false, logSlowRequests: false }),
      AyalaSearchModule.forRoot({
        isGlobal: true,
        client: retries === undefined ? { node, engine } : { node, engine, retries, requestTimeout: '2s' },
      }),
      AyalaRequestMetricsSinkModule.forRoot({ flushInterval: '50ms', ...sink }),
    ],
    controllers: [ItemsController],
  }).compile()
  const app = moduleRef.createNestApplication({ logger: false })
  await app.listen(0, '127.0.0.1')
  return app
}

describe.each(ENGINES)('request-metrics data stream on $engine', ({ engine, node }) => {
  let client: SearchClient

  beforeAll(() => {
    client = createSearchClient({ node, engine })
  })

  afterAll(async () => {
    await client.close()
  })

  it('installs the template once, leaves it alone after, and restores one changed by hand', async () => {
    const name = uniqueName('logs-ayala.install')
    const spec = resolveRequestMetricsSinkOptions({ dataStream: name, retention: false }).spec
    const raw = await client.raw()
    const path = `/_index_template/${requestMetricsObjectName(name)}`
    try {
      const first = await installRequestMetricsDataStream(client, spec)
      expect(first).toEqual({
        engine,
        dataStream: name,
        template: { name: requestMetricsObjectName(name), written: true },
        policy: undefined,
      })
      // Ten instances starting together: each reads, none writes.
      const again = await Promise.all(
        Array.from({ length: 10 }, () => installRequestMetricsDataStream(client, spec)),
      )
      expect(again.filter((report) => report.template.written)).toHaveLength(0)

      const stored = (await raw.transport.request({ method: 'GET', path })) as {
        index_templates: Array<{ index_template: Record<string, unknown> }>
      }
      const template = stored.index_templates[0]?.index_template as {
        index_patterns: string[]
        data_stream: unknown
        priority: number
        template: {
          settings?: { index?: Record<string, unknown> }
          mappings: { properties: Record<string, unknown> }
        }
        _meta: { managed_by: string }
      }
      expect(template.index_patterns).toEqual([name])
      expect(template.data_stream).toBeDefined()
      expect(template.priority).toBe(500)
      expect(template._meta.managed_by).toBe('@ayala/nestjs')
      expect(template.template.settings?.index?.lifecycle).toBeUndefined()
      expect(Object.keys(template.template.mappings.properties).sort()).toEqual(
        ['@timestamp', 'ayala', 'data_stream', 'ecs', 'event', 'host', 'http', 'service', 'url'].sort(),
      )

      // Someone edits it by hand: the next start puts it back.
      await raw.transport.request({
        method: 'PUT',
        path,
        body: { index_patterns: [name], data_stream: {}, priority: 499 },
      })
      expect((await installRequestMetricsDataStream(client, spec)).template.written).toBe(true)
      const restored = (await raw.transport.request({ method: 'GET', path })) as typeof stored
      expect(restored.index_templates[0]?.index_template.priority).toBe(500)
    } finally {
      await raw.transport.request({ method: 'DELETE', path }, { ignore: [404] })
    }
  })

  it('writes the ECS document of each request: fields, units, no query string', async () => {
    const serviceName = uniqueName('ecs')
    const app = await startApp(node, engine, {
      dataStream: DATA_STREAM,
      retention: false,
      service: { name: serviceName, version: '1.2.3', environment: 'test' },
    })
    const events: RequestEvent[] = []
    app.get(PerformanceEvents).on('request', (event) => events.push(event))
    const raw = await client.raw()
    try {
      const url = baseUrl(app)
      expect((await fetch(`${url}/items/7?token=s3cret-token`)).status).toBe(200)
      const sink = app.get(RequestMetricsSink)
      await waitFor(() => sink.stats().written === 1, 'one document written')
      expect(sink.stats()).toMatchObject({ setup: 'done', rejected: 0, dropped: 0, setupFailures: 0 })
      // The module's own template was already there (same body): not written again.
      expect(sink.installReport?.template.name).toBe(requestMetricsObjectName(DATA_STREAM))

      await raw.indices.refresh({ index: DATA_STREAM })
      const answer = await raw.search({
        index: DATA_STREAM,
        query: { term: { 'service.name': serviceName } },
      })
      expect(answer.hits.hits).toHaveLength(1)
      const hit = answer.hits.hits[0] as { _index: string; _source: Record<string, unknown> }
      expect(hit._index.startsWith(`.ds-${DATA_STREAM}-`)).toBe(true)
      const event = events[0] as RequestEvent
      expect(hit._source).toEqual({
        '@timestamp': new Date(event.at).toISOString(),
        ecs: { version: REQUEST_METRICS_ECS_VERSION },
        data_stream: { type: 'logs', dataset: 'ayala.requests', namespace: 'test' },
        event: {
          kind: 'event',
          category: ['web'],
          type: ['access'],
          outcome: 'success',
          dataset: 'ayala.requests',
          duration: Math.round(event.durationMs * 1_000_000),
        },
        service: { name: serviceName, version: '1.2.3', environment: 'test' },
        host: { name: expect.any(String) },
        http: { request: { method: 'GET' }, response: { status_code: 200 } },
        url: { path: '/items/7' },
        ayala: {
          transport: 'http',
          route: '/items/:id',
          slow: false,
          cache: { l1_hits: 0, l2_hits: 0, stale: 0, misses: 0, coalesced: 0, bypassed: 0 },
        },
      })
      expect(JSON.stringify(hit._source)).not.toContain('s3cret')
    } finally {
      await clearDataStream(raw, engine, DATA_STREAM)
      await app.close()
    }
  })

  it('refuses retention on an engine without ILM/ISM, typed, before installing anything', async () => {
    const name = uniqueName('logs-ayala.noilm')
    const spec = resolveRequestMetricsSinkOptions({ dataStream: name }).spec
    expect(spec.retentionMs).toBe(30 * 86_400_000)
    const error = await installRequestMetricsDataStream(client, spec).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RequestMetricsSetupError)
    expect(error).toMatchObject({
      code: 'E_NEST_SINK_NO_LIFECYCLE',
      retriable: false,
      engine,
      dataStream: name,
    })
    expect((error as Error).message).toContain('retention: false')
    const raw = await client.raw()
    // The policy goes first: no template was left behind.
    const template = await raw.transport.request(
      { method: 'GET', path: `/_index_template/${requestMetricsObjectName(name)}` },
      { ignore: [404], meta: true },
    )
    expect(template.statusCode).toBe(404)

    // The module with its defaults on that engine: requests served, nothing written, no data
    // stream created (a write without the template would make an unmanaged one).
    const app = await startApp(node, engine, { dataStream: name, maxBuffer: 3 })
    try {
      const url = baseUrl(app)
      for (const id of ['1', '2', '3', '4', '5']) expect((await fetch(`${url}/items/${id}`)).status).toBe(200)
      const sink = app.get(RequestMetricsSink)
      await waitFor(() => sink.stats().setupFailures >= 2, 'the set-up tried again at a flush')
      const stats = sink.stats()
      expect(stats).toMatchObject({ setup: 'failed', written: 0, rejected: 0 })
      expect(stats.buffered).toBe(3)
      expect(stats.dropped).toBe(2)
      expect(sink.setupError).toMatchObject({ code: 'E_NEST_SINK_NO_LIFECYCLE' })
      expect(await raw.indices.exists({ index: name, expand_wildcards: 'all' })).toBe(false)
    } finally {
      await app.close()
    }
  })

  it('keeps serving when the engine is unreachable: the set-up retried, the buffer bounded', async () => {
    // Port 9 on loopback: nothing listens, every request is refused.
    const app = await startApp(
      'http://127.0.0.1:9',
      engine,
      { dataStream: DATA_STREAM, maxBuffer: 2, retries: 0 },
      0,
    )
    try {
      const url = baseUrl(app)
      for (const id of ['1', '2', '3', '4']) expect((await fetch(`${url}/items/${id}`)).status).toBe(200)
      const sink = app.get(RequestMetricsSink)
      await waitFor(() => sink.stats().failedFlushes >= 1, 'a failed flush')
      const stats = sink.stats()
      expect(stats).toMatchObject({ setup: 'failed', written: 0 })
      expect(stats.buffered + stats.writing).toBe(2)
      expect(stats.buffered + stats.writing + stats.dropped).toBe(4)
      expect(sink.setupError).toMatchObject({ code: 'E_NEST_SINK_SETUP', retriable: true })
      expect(app.get<SearchClient>(AYALA_SEARCH_CLIENT)).toBeDefined()
    } finally {
      await app.close()
    }
  })
})
