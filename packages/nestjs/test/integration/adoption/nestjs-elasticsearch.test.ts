/**
 * Adoption from `@nestjs/elasticsearch`: an application that already has `ElasticsearchModule`
 * and services calling `ElasticsearchService` adds `AyalaSearchModule.forRootAsync` with the
 * same client through `inject`, on the harness's real Elasticsearch. The existing call sites keep
 * working beside the typed repository (both see the same documents), the module wraps the
 * injected client (`search.raw()` is that very `ElasticsearchService`) and, at `app.close()`,
 * closes only its wrapper: the application's client still answers after the shutdown. On the
 * harness's OpenSearch, the default `ElasticsearchService` (product check, `compatible-with`
 * media types) fails the bootstrap with `E_SEARCH_CLIENT_ENGINE`; registered with
 * `Transport: OpenSearchTransport` it works.
 */
import 'reflect-metadata'
import { defineIndex, field, OpenSearchTransport, type SearchClient } from '@ayala/search'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Controller, Get, type INestApplication, Inject, Injectable, Param } from '@nestjs/common'
import { ElasticsearchModule, ElasticsearchService } from '@nestjs/elasticsearch'
import { Test } from '@nestjs/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AYALA_SEARCH_CLIENT,
  AyalaSearchModule,
  InjectSearchRepository,
  type SearchRepositoryOf,
} from '../../../src/search/index.js'
import { baseUrl } from '../../helpers/http.js'

const services = serviceUrls()

const invoices = defineIndex({
  name: uniqueName('nest-es-adoption'),
  id: 'id',
  fields: {
    id: field.keyword(),
    client: field.keyword(),
    description: field.text({ analyzer: 'standard' }),
    total: field.integer(),
  },
})

/** The code the application had before: the official client, injected by @nestjs/elasticsearch. */
@Injectable()
class LegacyInvoiceSearch {
  constructor(@Inject(ElasticsearchService) private readonly es: ElasticsearchService) {}

  async index(doc: { id: string; client: string; description: string; total: number }) {
    await this.es.index({ index: invoices.name, id: doc.id, document: doc, refresh: true })
  }

  async count(client: string): Promise<number> {
    const response = await this.es.count({ index: invoices.name, query: { term: { client } } })
    return response.count
  }
}

/** The new code: the typed repository of the same index. */
@Controller('invoices')
class InvoicesController {
  constructor(
    @InjectSearchRepository(invoices) private readonly repository: SearchRepositoryOf<typeof invoices>,
  ) {}

  @Get('client/:client')
  async byClient(@Param('client') client: string) {
    const { hits } = await this.repository.search({
      filter: this.repository.q.term('client', client),
      sort: [{ field: 'id' }],
    })
    return hits.map((hit) => hit.id)
  }
}

describe('AyalaSearchModule over @nestjs/elasticsearch (real Elasticsearch)', () => {
  let app: INestApplication
  let url: string
  let es: ElasticsearchService
  let closed = false

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ElasticsearchModule.register({ node: services.elasticsearch }),
        AyalaSearchModule.forRootAsync({
          indexes: [invoices],
          imports: [ElasticsearchModule.register({ node: services.elasticsearch })],
          inject: [ElasticsearchService],
          useFactory: (client: ElasticsearchService) => ({
            client,
            ensureIndexes: true,
            onStartFailure: 'fail',
          }),
        }),
      ],
      controllers: [InvoicesController],
      providers: [LegacyInvoiceSearch],
    }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    await app.listen(0, '127.0.0.1')
    url = baseUrl(app)
    es = app.get(ElasticsearchService)
  })

  afterAll(async () => {
    if (!closed) await app?.close()
    const cleanup = new ElasticsearchService({ node: services.elasticsearch })
    await cleanup.indices.delete({ index: invoices.name, ignore_unavailable: true })
    await cleanup.indices.deleteIndexTemplate({ name: `ayala-search-${invoices.name}` }, { ignore: [404] })
    await cleanup.close()
  })

  it('wraps the injected ElasticsearchService; old and new call sites see the same index', async () => {
    const search = app.get<SearchClient>(AYALA_SEARCH_CLIENT)
    expect(search.options.borrowed).toBe(true)
    expect(await search.engine()).toBe('elasticsearch')
    expect(await search.raw()).toBe(es)
    // ensureIndexes created the index from the definition, through the application's client.
    expect(await es.indices.exists({ index: invoices.name })).toBe(true)
    const legacy = app.get(LegacyInvoiceSearch)
    for (const id of ['E-1', 'E-2', 'E-3'])
      await legacy.index({ id, client: 'acme', description: `invoice ${id}`, total: 100 })
    expect(await legacy.count('acme')).toBe(3)
    const ids = (await (await fetch(`${url}/invoices/client/acme`)).json()) as string[]
    expect(ids).toEqual(['E-1', 'E-2', 'E-3'])
  })

  it('app.close() closes the wrapper only: the injected client still answers', async () => {
    const injected = await app.get<SearchClient>(AYALA_SEARCH_CLIENT).raw()
    await app.close()
    closed = true
    const info = (await injected.info()) as { version: { number: string } }
    expect(info.version.number).toMatch(/^\d+\./)
    expect((await injected.count({ index: invoices.name })).count).toBe(3)
  })
})

describe('@nestjs/elasticsearch against OpenSearch (real OpenSearch)', () => {
  const definition = defineIndex({
    name: uniqueName('nest-os-adoption'),
    id: 'id',
    fields: { id: field.keyword(), client: field.keyword() },
  })

  async function start(options: { Transport?: typeof OpenSearchTransport }) {
    const moduleRef = await Test.createTestingModule({
      imports: [
        AyalaSearchModule.forRootAsync({
          indexes: [definition],
          imports: [ElasticsearchModule.register({ node: services.opensearch, ...options })],
          inject: [ElasticsearchService],
          useFactory: (client: ElasticsearchService) => ({
            client,
            ensureIndexes: true,
            onStartFailure: 'fail',
          }),
        }),
      ],
    }).compile()
    return moduleRef.createNestApplication({ logger: false })
  }

  it('the default ElasticsearchService fails the bootstrap with E_SEARCH_CLIENT_ENGINE, naming the fix', async () => {
    const app = await start({})
    const error = (await app.init().catch((e: unknown) => e)) as { code?: string; message?: string }
    expect(error.code).toBe('E_SEARCH_CLIENT_ENGINE')
    expect(error.message).toContain('OpenSearchTransport')
    await app.close()
  })

  it('ElasticsearchModule.register({ Transport: OpenSearchTransport }) talks to OpenSearch', async () => {
    const app = await start({ Transport: OpenSearchTransport })
    await app.init()
    try {
      const search = app.get<SearchClient>(AYALA_SEARCH_CLIENT)
      expect(await search.engine()).toBe('opensearch')
      const es = app.get(ElasticsearchService)
      await es.index({
        index: definition.name,
        id: 'O-1',
        document: { id: 'O-1', client: 'acme' },
        refresh: true,
      })
      const { hits } = await search.search(definition, { filter: definition.q.term('client', 'acme') })
      expect(hits.map((hit) => hit.id)).toEqual(['O-1'])
      await search.deleteIndex(definition.name)
      await es.indices.deleteIndexTemplate({ name: `ayala-search-${definition.name}` }, { ignore: [404] })
    } finally {
      await app.close()
    }
  })
})
