/**
 * The shipped saved objects (dashboards/kibana.ndjson, dashboards/opensearch-dashboards.ndjson)
 * against the real engines. No registry here serves Kibana or OpenSearch Dashboards, so what
 * can be checked is checked: every field the objects use exists in the data stream's live
 * mapping with a type fit for its use, and every visualisation's aggregation, run as a search
 * after real HTTP traffic through a Nest app with the sink, returns the figures the interceptor
 * reported (requests per route, slow requests, cache hit ratio, p95 within the observed
 * durations).
 *
 * The data stream: `logs-ayala.requests-test` on both engines, told apart between runs by a
 * unique `service.name` (the one filter the test adds to each query); cleared afterwards
 * (`clearDataStream`: the harness's Elasticsearch cannot delete a data stream).
 */
import 'reflect-metadata'
import { join } from 'node:path'
import type { Cache } from '@ayala/cache'
import type { EngineKind, SearchClient } from '@ayala/search'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Controller, Get, type INestApplication, InternalServerErrorException, Param } from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaCacheModule, InjectCache } from '../../../src/index.js'
import { AyalaMetricsModule, PerformanceEvents, type RequestEvent } from '../../../src/metrics/index.js'
import {
  AYALA_SEARCH_CLIENT,
  AyalaRequestMetricsSinkModule,
  AyalaSearchModule,
  RequestMetricsSink,
} from '../../../src/search/index.js'
import { clearDataStream } from '../../helpers/data-stream.js'
import { baseUrl, waitFor } from '../../helpers/http.js'
import { deleteNamespaces } from '../../helpers/redis.js'
import {
  type FieldUse,
  flattenMappings,
  lensFields,
  lensQuery,
  osdFields,
  osdQuery,
  osdTypeOf,
  readSavedObjects,
  type SavedObject,
  TYPES_FOR_USE,
  type VisualisationQuery,
} from '../../helpers/saved-objects.js'

const DATA_STREAM = 'logs-ayala.requests-test'
const SLOW_MS = 120

@Controller()
class TrafficController {
  constructor(@InjectCache() private readonly cache: Cache) {}

  /** One cache lookup: a miss the first time an id is seen, an L1 hit after. */
  @Get('items/:id')
  item(@Param('id') id: string) {
    return this.cache.getOrSet(`item:${id}`, () => ({ id }))
  }

  /** Two lookups, the second always of a fresh key: every request has a miss. */
  @Get('reports/:id')
  async report(@Param('id') id: string) {
    await this.cache.getOrSet(`report:${id}`, () => ({ id }))
    return this.cache.getOrSet(`report:${id}:${Math.random()}`, () => ({ id }))
  }

  @Get('slow/:id')
  async slow(@Param('id') id: string) {
    await new Promise((resolve) => setTimeout(resolve, SLOW_MS + 30))
    return { id }
  }

  @Get('fail')
  fail() {
    throw new InternalServerErrorException()
  }

  @Get('plain')
  plain() {
    return { ok: true }
  }
}

const services = serviceUrls()
const dashboards = join(import.meta.dirname, '../../../dashboards')
const ENGINES: Array<{ engine: EngineKind; node: string; file: string; kind: 'lens' | 'osd' }> = [
  { engine: 'elasticsearch', node: services.elasticsearch, file: 'kibana.ndjson', kind: 'lens' },
  { engine: 'opensearch', node: services.opensearch, file: 'opensearch-dashboards.ndjson', kind: 'osd' },
]

/** What the interceptor reported, per route: the ground truth of every panel. */
function truthByRoute(events: RequestEvent[]) {
  const routes = new Map<
    string,
    { count: number; slow: number; maxSlowNs: number; durationsNs: number[]; cacheUsed: number; hits: number }
  >()
  for (const event of events) {
    let entry = routes.get(event.route)
    if (entry === undefined) {
      entry = { count: 0, slow: 0, maxSlowNs: 0, durationsNs: [], cacheUsed: 0, hits: 0 }
      routes.set(event.route, entry)
    }
    const ns = Math.round(event.durationMs * 1_000_000)
    entry.count++
    entry.durationsNs.push(ns)
    if (event.slow) {
      entry.slow++
      entry.maxSlowNs = Math.max(entry.maxSlowNs, ns)
    }
    const cache = event.cache
    if (cache && cache.l1Hits + cache.l2Hits + cache.stale + cache.misses > 0) {
      entry.cacheUsed++
      if (cache.misses === 0) entry.hits++
    }
  }
  return routes
}

describe.each(ENGINES)('shipped $file against $engine after real traffic', ({ engine, node, file, kind }) => {
  const namespace = uniqueName('nest-dash')
  const serviceName = uniqueName('dashboards')
  const events: RequestEvent[] = []
  const from = new Date(Date.now() - 60_000).toISOString()
  let app: INestApplication
  let client: SearchClient
  let objects: SavedObject[]

  beforeAll(async () => {
    objects = readSavedObjects(join(dashboards, file))
    const moduleRef = await Test.createTestingModule({
      imports: [
        AyalaCacheModule.forRoot({ redis: services.redis, namespace, redisTimeout: '5s', isGlobal: true }),
        AyalaMetricsModule.forRoot({
          isGlobal: true,
          path: false,
          slowThreshold: SLOW_MS,
          logSlowRequests: false,
        }),
        AyalaSearchModule.forRoot({ isGlobal: true, client: { node, engine } }),
        AyalaRequestMetricsSinkModule.forRoot({
          dataStream: DATA_STREAM,
          retention: false,
          service: { name: serviceName, environment: 'test' },
          flushInterval: '100ms',
          batchSize: 20,
        }),
      ],
      controllers: [TrafficController],
    }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    app.get(PerformanceEvents).on('request', (event) => events.push(event))
    await app.listen(0, '127.0.0.1')
    client = app.get<SearchClient>(AYALA_SEARCH_CLIENT)

    const url = baseUrl(app)
    // Known traffic: 12 item reads over 4 ids (4 misses, 8 hits), 5 reports (all with a miss),
    // 3 slow requests, 2 failures, 6 requests that touch no cache.
    const paths = [
      ...[1, 2, 1, 3, 1, 2, 4, 3, 1, 4, 2, 1].map((id) => `/items/${id}`),
      ...[1, 2, 3, 4, 5].map((id) => `/reports/${id}`),
      ...[1, 2, 3].map((id) => `/slow/${id}`),
      '/fail',
      '/fail',
      ...Array.from({ length: 6 }, () => '/plain'),
    ]
    for (const path of paths) await fetch(`${url}${path}`)
    const sink = app.get(RequestMetricsSink)
    await waitFor(() => sink.stats().written === paths.length, `${paths.length} documents written`)
    expect(events).toHaveLength(paths.length)
    expect(sink.stats()).toMatchObject({
      dropped: 0,
      rejected: 0,
      failedFlushes: 0,
      buffered: 0,
      setup: 'done',
    })
    await client.refresh(DATA_STREAM)
  })

  afterAll(async () => {
    // The module's search client closes with the app: clean up first.
    const raw = await client?.raw()
    if (raw !== undefined) await clearDataStream(raw, engine, DATA_STREAM)
    await app?.close()
    await deleteNamespaces(services.redis, [namespace])
  })

  it('uses only fields the data stream maps, each with a type fit for its use', async () => {
    const raw = await client.raw()
    const mapping = flattenMappings(
      (await raw.indices.getMapping({ index: DATA_STREAM, expand_wildcards: 'all' })) as never,
    )
    expect(mapping.get('@timestamp')).toBe('date')

    const dataView = objects.find((o) => o.type === 'index-pattern') as SavedObject
    const uses: FieldUse[] = [
      { object: dataView.id, field: dataView.attributes.timeFieldName as string, use: 'time' },
    ]
    for (const field of Object.keys(JSON.parse(dataView.attributes.fieldFormatMap as string)))
      uses.push({ object: dataView.id, field, use: 'format' })
    const visualisations = objects.filter((o) => o.type === (kind === 'lens' ? 'lens' : 'visualization'))
    expect(visualisations).toHaveLength(4)
    for (const object of visualisations)
      uses.push(...(kind === 'lens' ? lensFields(object) : osdFields(object)))

    const wrong = uses.filter((u) => !TYPES_FOR_USE[u.use].has(mapping.get(u.field) ?? 'missing'))
    expect(wrong).toEqual([])
    expect(new Set(uses.map((u) => u.field))).toEqual(
      new Set(['@timestamp', 'ayala.route', 'event.duration', 'ayala.cache.hit', 'ayala.slow']),
    )
    // The data view's pattern covers the data stream.
    const pattern = new RegExp(
      `^${(dataView.attributes.title as string).replace(/[.]/g, '\\.').replace(/\*/g, '.*')}$`,
    )
    expect(pattern.test(DATA_STREAM)).toBe(true)

    if (kind === 'osd') {
      // The index pattern's field list is what OpenSearch Dashboards shows and aggregates on:
      // every mapped field is in it, each with the type the mapping gives.
      const listed = new Map(
        (JSON.parse(dataView.attributes.fields as string) as Array<{ name: string; type: string }>)
          .filter((f) => !f.name.startsWith('_'))
          .map((f) => [f.name, f.type]),
      )
      expect(new Set(listed.keys())).toEqual(new Set(mapping.keys()))
      const mismatched = [...mapping].filter(([name, type]) => listed.get(name) !== osdTypeOf(type))
      expect(mismatched).toEqual([])
    }
  })

  it('answers each panel with the figures the interceptor reported', async () => {
    const raw = await client.raw()
    const range = { from, to: new Date(Date.now() + 60_000).toISOString() }
    const onlyThisRun = [{ term: { 'service.name': serviceName } }]
    const dataView = objects.find((o) => o.type === 'index-pattern') as SavedObject
    const index = { timeField: dataView.attributes.timeFieldName as string }
    const queries = new Map<string, VisualisationQuery>()
    for (const object of objects) {
      if (object.type === 'lens') queries.set(object.id, lensQuery(object, index, range, onlyThisRun))
      if (object.type === 'visualization') queries.set(object.id, osdQuery(object, index, range, onlyThisRun))
    }
    const run = async (id: string) => {
      const query = queries.get(id)
      if (query === undefined) throw new Error(`no visualisation ${id}`)
      const response = await raw.search({ index: DATA_STREAM, ...(query.body as object) })
      return query.read(response as never)
    }
    const truth = truthByRoute(events)
    const routeOf = (keys: Record<string, string | number>) =>
      String(Object.entries(keys).find(([id]) => id === 'col-route' || id === '3')?.[1])
    const metric = (values: Record<string, number | null>, lens: string, osd: string) =>
      values[kind === 'lens' ? lens : osd] ?? null

    // Request rate: per-interval counts by route add up to each route's requests.
    const rate = new Map<string, number>()
    for (const row of await run('ayala-requests-rate'))
      rate.set(
        routeOf(row.keys),
        (rate.get(routeOf(row.keys)) ?? 0) + (metric(row.values, 'col-count', '1') as number),
      )
    expect(Object.fromEntries(rate)).toEqual({
      '/items/:id': 12,
      '/reports/:id': 5,
      '/slow/:id': 3,
      '/fail': 2,
      '/plain': 6,
    })
    expect(Object.fromEntries(rate)).toEqual(
      Object.fromEntries([...truth].map(([route, t]) => [route, t.count])),
    )

    // p95 by route: the count exactly; the percentile between the observed durations around rank 95 %.
    const p95 = await run('ayala-requests-p95')
    expect(p95).toHaveLength(truth.size)
    for (const row of p95) {
      const route = routeOf(row.keys)
      const t = truth.get(route)
      if (t === undefined) throw new Error(`unexpected route ${route}`)
      expect(metric(row.values, 'col-count', '2')).toBe(t.count)
      const sorted = [...t.durationsNs].sort((a, b) => a - b)
      const rank = 0.95 * (sorted.length - 1)
      const low = sorted[Math.max(0, Math.floor(rank) - 1)] as number
      const high = sorted[sorted.length - 1] as number
      const value = metric(row.values, 'col-p95', '1') as number
      expect(value, route).toBeGreaterThanOrEqual(low)
      expect(value, route).toBeLessThanOrEqual(high)
    }
    // The slow route's p95 is at least its sleep: every one of its requests was over it.
    const slowP95 = p95.find((row) => routeOf(row.keys) === '/slow/:id') as (typeof p95)[number]
    expect(metric(slowP95.values, 'col-p95', '1')).toBeGreaterThanOrEqual(SLOW_MS * 1_000_000)

    // Slow requests: the count and the slowest, per route; no fast route listed.
    const slow = await run('ayala-requests-slow')
    const expectedSlow = [...truth].filter(([, t]) => t.slow > 0)
    expect(expectedSlow.map(([route]) => route)).toContain('/slow/:id')
    expect(
      Object.fromEntries(slow.map((row) => [routeOf(row.keys), metric(row.values, 'col-count', '1')])),
    ).toEqual(Object.fromEntries(expectedSlow.map(([route, t]) => [route, t.slow])))
    for (const row of slow)
      expect(metric(row.values, 'col-max', '2')).toBe(truth.get(routeOf(row.keys))?.maxSlowNs)

    // Cache hit ratio: only routes that used the cache; items 8 of 12, reports 0 of 5.
    const ratio = await run('ayala-requests-cache-hit-ratio')
    const ratios = Object.fromEntries(
      ratio.map((row) => [routeOf(row.keys), metric(row.values, 'col-hit', '1')]),
    )
    expect(ratios).toEqual({ '/items/:id': 8 / 12, '/reports/:id': 0 })
    expect(
      Object.fromEntries(ratio.map((row) => [routeOf(row.keys), metric(row.values, 'col-count', '2')])),
    ).toEqual({ '/items/:id': 12, '/reports/:id': 5 })
    for (const [route, t] of truth) if (t.cacheUsed > 0) expect(ratios[route]).toBe(t.hits / t.cacheUsed)
  })
})
