import { Client } from '@elastic/elasticsearch'
import { afterAll, describe, expect, it } from 'vitest'
import { ELASTICSEARCH_URL, uniqueName } from '../helpers/env.js'

// The official client only talks to a server that answers with "X-Elastic-Product:
// Elasticsearch"; the harness runs the real Elasticsearch 9 server jar, so it does. The jar-based
// node has no analysis-common/mapper-extras/painless: tests needing them run on OpenSearch.

const client = new Client({ node: ELASTICSEARCH_URL, requestTimeout: 30_000 })
const created: string[] = []

afterAll(async () => {
  if (created.length > 0) await client.indices.delete({ index: created, ignore_unavailable: true })
  await client.close()
})

describe('Elasticsearch through @elastic/elasticsearch', () => {
  it('passes the client product check', async () => {
    expect(await client.ping()).toBe(true)
    const info = await client.info()
    expect(info.version.number).toMatch(/^9\./)
    const health = await client.cluster.health()
    expect(['green', 'yellow']).toContain(health.status)
  })

  it('indexes, bulk-loads and searches documents', async () => {
    const index = uniqueName('services-test')
    created.push(index)
    await client.indices.create({
      index,
      settings: { number_of_shards: 1, number_of_replicas: 0 },
      mappings: {
        properties: { name: { type: 'text' }, number: { type: 'keyword' }, total: { type: 'double' } },
      },
    })
    await client.index({
      index,
      id: '1',
      document: { name: 'Electrónica del Norte', number: 'F-001', total: 12.5 },
    })
    const bulk = await client.helpers.bulk({
      datasource: Array.from({ length: 20 }, (_, i) => ({
        name: `cliente ${i}`,
        number: `F-1${i}`,
        total: i * 10,
      })),
      onDocument: () => ({ index: { _index: index } }),
      refreshOnCompletion: index,
    })
    expect(bulk.failed).toBe(0)
    expect(bulk.successful).toBe(20)

    const byName = await client.search({ index, query: { match: { name: 'norte' } } })
    expect(byName.hits.hits.map((h) => h._id)).toEqual(['1'])
    const byRange = await client.search({
      index,
      query: { range: { total: { gte: 150 } } },
      size: 0,
      track_total_hits: true,
    })
    expect(byRange.hits.total).toEqual({ value: 5, relation: 'eq' })
  })

  // best_compression stores fields with zstd through ES's native access (libzstd). Without it the
  // embedded node failed the shard on the first refresh (NullPointerException in ZstdCompressor);
  // cli.mjs points -Des.nativelibs.path at the machine's libzstd.
  it('stores and reads zstd-compressed documents (index.codec best_compression)', async () => {
    const index = uniqueName('services-test')
    created.push(index)
    await client.indices.create({
      index,
      settings: { number_of_shards: 1, number_of_replicas: 0, 'index.codec': 'best_compression' },
    })
    const description = 'Factura electrónica de suministro eléctrico, Sevilla'
    await client.index({ index, id: '1', document: { description }, refresh: true })
    await client.indices.flush({ index })
    expect((await client.get<{ description: string }>({ index, id: '1' }))._source).toEqual({ description })
    const hits = await client.search({ index, query: { match: { description: 'sevilla' } } })
    expect(hits.hits.hits.map((h) => h._id)).toEqual(['1'])
  })

  it.skipIf(process.env.ELASTICSEARCH_URL !== undefined)(
    'is the bare server jar: no analysis-common, so no "spanish" analyzer',
    async () => {
      const index = uniqueName('services-test')
      await expect(
        client.indices.create({
          index,
          mappings: { properties: { name: { type: 'text', analyzer: 'spanish' } } },
        }),
      ).rejects.toThrow(/spanish/)
    },
  )
})
