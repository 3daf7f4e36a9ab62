import 'reflect-metadata'
import type { EngineKind, SearchClient } from '@ayala/search'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Controller, Get, type INestApplication, NotFoundException, Param } from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaMetricsModule } from '../../../src/metrics/index.js'
import {
  AYALA_SEARCH_CLIENT,
  AyalaRequestMetricsSinkModule,
  AyalaSearchModule,
  RequestMetricsSink,
  requestMetricsIndex,
} from '../../../src/search/index.js'
import { baseUrl, waitFor } from '../../helpers/http.js'

@Controller('items')
class ItemsController {
  @Get(':id')
  find(@Param('id') id: string) {
    if (id === 'missing') throw new NotFoundException()
    return { id }
  }
}

const services = serviceUrls()

/** Both real nodes of the harness. */
const ENGINES: Array<{ engine: EngineKind; node: string }> = [
  { engine: 'elasticsearch', node: services.elasticsearch },
  { engine: 'opensearch', node: services.opensearch },
]

describe.each(ENGINES)(
  'AyalaRequestMetricsSinkModule on $engine, deprecated index option: legacy documents bulk-written to a plain index',
  ({ engine, node }) => {
    const index = uniqueName('nest-requests')
    let app: INestApplication
    let client: SearchClient

    beforeAll(async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [
          AyalaMetricsModule.forRoot({ isGlobal: true, path: false }),
          AyalaSearchModule.forRoot({
            isGlobal: true,
            client: { node, engine },
          }),
          AyalaRequestMetricsSinkModule.forRoot({ index, flushInterval: '100ms', maxBatch: 3 }),
        ],
        controllers: [ItemsController],
      }).compile()
      app = moduleRef.createNestApplication({ logger: false })
      await app.listen(0, '127.0.0.1')
      client = app.get<SearchClient>(AYALA_SEARCH_CLIENT)
    })

    afterAll(async () => {
      const raw = await client?.raw()
      await raw?.indices.delete({ index, ignore_unavailable: true })
      await app?.close()
    })

    it('writes one document per request, with route pattern, status and cache figures', async () => {
      const url = baseUrl(app)
      for (const id of ['1', '2', '3', '4', 'missing']) await fetch(`${url}/items/${id}`)
      const sink = app.get(RequestMetricsSink)
      await waitFor(() => sink.stats().written === 5, 'five request documents written')
      expect(sink.stats()).toMatchObject({ dropped: 0, rejected: 0, failedFlushes: 0, buffered: 0 })

      const raw = await client.raw()
      await raw.indices.refresh({ index })
      const definition = requestMetricsIndex(index)
      expect(sink.definition?.name).toBe(index)
      const { hits } = await client.search(definition, {
        filter: definition.q.term('route', '/items/:id'),
        size: 10,
      })
      expect(hits).toHaveLength(5)
      expect(hits.map((h) => h.source.statusCode).sort()).toEqual([200, 200, 200, 200, 404])
      expect(hits.every((h) => h.source.method === 'GET' && h.source.transport === 'http')).toBe(true)
      expect(hits.every((h) => typeof h.source.durationMs === 'number' && h.source.misses === 0)).toBe(true)
    })

    it('keeps serving when the engine is unreachable: failed flushes counted, the buffer bounded', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [
          AyalaMetricsModule.forRoot({ isGlobal: true, path: false }),
          AyalaSearchModule.forRoot({
            isGlobal: true,
            // Port 9 on loopback: nothing listens, every request is refused.
            client: { node: 'http://127.0.0.1:9', engine, retries: 0, requestTimeout: '2s' },
          }),
          AyalaRequestMetricsSinkModule.forRoot({
            index,
            flushInterval: '50ms',
            maxBatch: 100,
            maxBuffer: 2,
            retries: 0,
          }),
        ],
        controllers: [ItemsController],
      }).compile()
      const down = moduleRef.createNestApplication({ logger: false })
      await down.listen(0, '127.0.0.1')
      try {
        const url = baseUrl(down)
        for (const id of ['1', '2', '3', '4']) expect((await fetch(`${url}/items/${id}`)).status).toBe(200)
        const sink = down.get(RequestMetricsSink)
        await waitFor(() => sink.stats().failedFlushes >= 1, 'a failed flush')
        const stats = sink.stats()
        expect(stats.written).toBe(0)
        expect(stats.buffered + stats.writing).toBeLessThanOrEqual(2)
        expect(stats.dropped).toBeGreaterThanOrEqual(2)
        expect(stats.buffered + stats.writing + stats.dropped).toBe(4)
      } finally {
        await down.close()
      }
    })
  },
)
