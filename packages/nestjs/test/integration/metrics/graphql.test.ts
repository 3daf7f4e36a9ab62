/**
 * The GraphQL path, one suite run on both of Nest's GraphQL drivers: Mercurius on Fastify and
 * Apollo Server on Express (the common Nest setup). A real Nest application whose resolvers call
 * a repository that uses the cache decorators of `@ayala/cache` (bound by the cache module, real
 * Redis), measured by the performance interceptor of the metrics module (Prometheus output
 * parsed), with the request cache modes. Requests go over a real socket (`listen(0)` + `fetch`),
 * so both drivers see the same HTTP requests.
 */
import 'reflect-metadata'
import { Cacheable, CacheInvalidate } from '@ayala/cache'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo'
import {
  type DynamicModule,
  type INestApplication,
  Inject,
  Injectable,
  Module,
  NotFoundException,
} from '@nestjs/common'
import { Args, GraphQLModule, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql'
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius'
import { ExpressAdapter } from '@nestjs/platform-express'
import { FastifyAdapter } from '@nestjs/platform-fastify'
import { Test, type TestingModule } from '@nestjs/testing'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { AyalaCacheModule, UseCacheMode } from '../../../src/index.js'
import { AyalaMetricsModule, PerformanceEvents, type RequestEvent } from '../../../src/metrics/index.js'
import { baseUrl } from '../../helpers/http.js'
import { parsePrometheusText, samples, sampleValue } from '../../helpers/prometheus-parser.js'
import { deleteNamespaces } from '../../helpers/redis.js'

const typeDefs = /* GraphQL */ `
  type Client {
    id: ID!
    name: String!
  }
  type Invoice {
    id: ID!
    total: Int!
    client: Client
  }
  type Query {
    invoice(id: ID!): Invoice
    liveInvoice(id: ID!): Invoice
    refreshedInvoice(id: ID!): Invoice
    missingInvoice(id: ID!): Invoice
  }
  type Mutation {
    updateInvoice(id: ID!, total: Int!): Invoice!
  }
`

interface Invoice {
  id: string
  total: number
  clientId?: string | undefined
}

interface Client {
  id: string
  name: string
}

@Injectable()
class InvoiceTable {
  readonly rows = new Map<string, Invoice>()
  readonly clients = new Map<string, Client>()
}

/** A repository with the cache decorators (legacy decorators, as Nest uses); `loads` counts real reads. */
@Injectable()
class InvoiceRepository {
  loads = 0
  constructor(@Inject(InvoiceTable) private readonly table: InvoiceTable) {}

  @Cacheable({ key: (id: string) => `invoice:${id}`, tags: (id: string) => [`invoice:${id}`], ttl: '1m' })
  async find(id: string): Promise<Invoice | null> {
    this.loads++
    return this.table.rows.get(id) ?? null
  }

  @CacheInvalidate({ tags: (id: string) => [`invoice:${id}`] })
  async update(id: string, total: number): Promise<Invoice> {
    const row = { id, total }
    this.table.rows.set(id, row)
    return row
  }
}

@Injectable()
class ClientRepository {
  loads = 0
  constructor(@Inject(InvoiceTable) private readonly table: InvoiceTable) {}

  @Cacheable({ key: (id: string) => `client:${id}`, ttl: '1m' })
  async find(id: string): Promise<Client | null> {
    this.loads++
    return this.table.clients.get(id) ?? null
  }
}

@Resolver('Invoice')
class InvoiceResolver {
  constructor(
    @Inject(InvoiceRepository) private readonly repository: InvoiceRepository,
    @Inject(ClientRepository) private readonly clients: ClientRepository,
  ) {}

  @Query('invoice')
  async invoice(@Args('id') id: string): Promise<Invoice | null> {
    // Two lookups per field: the second is an L1 hit of the value the first one loaded or found.
    const invoice = await this.repository.find(id)
    await this.repository.find(id)
    return invoice
  }

  @Query('liveInvoice')
  @UseCacheMode('bypass')
  liveInvoice(@Args('id') id: string): Promise<Invoice | null> {
    return this.repository.find(id)
  }

  @Query('refreshedInvoice')
  @UseCacheMode('refresh')
  refreshedInvoice(@Args('id') id: string): Promise<Invoice | null> {
    return this.repository.find(id)
  }

  @Query('missingInvoice')
  async missingInvoice(@Args('id') id: string): Promise<Invoice> {
    const invoice = await this.repository.find(id)
    if (invoice === null) throw new NotFoundException(`no invoice ${id}`)
    return invoice
  }

  @ResolveField('client')
  client(@Parent() invoice: Invoice): Promise<Client | null> | null {
    return invoice.clientId === undefined ? null : this.clients.find(invoice.clientId)
  }

  @Mutation('updateInvoice')
  updateInvoice(@Args('id') id: string, @Args('total') total: number): Promise<Invoice> {
    return this.repository.update(id, total)
  }
}

@Module({ providers: [InvoiceTable, InvoiceRepository, ClientRepository, InvoiceResolver] })
class InvoicesModule {}

interface GraphQLResponse {
  data?: Record<string, unknown> | null
  errors?: Array<{ message: string }>
}

/**
 * One GraphQL driver on its HTTP platform. Both register the module the same way; in particular
 * `fieldResolverEnhancers: ['interceptors']` gives `@ResolveField` resolvers the interceptors
 * (measured and in the cache mode).
 */
interface GraphQLDriverSetup {
  name: string
  graphqlModule(): DynamicModule
  createApp(moduleRef: TestingModule): INestApplication
}

const DRIVERS: GraphQLDriverSetup[] = [
  {
    name: 'Mercurius on Fastify',
    graphqlModule: () =>
      GraphQLModule.forRoot<MercuriusDriverConfig>({
        driver: MercuriusDriver,
        typeDefs,
        fieldResolverEnhancers: ['interceptors'],
      }),
    createApp: (moduleRef) => moduleRef.createNestApplication(new FastifyAdapter(), { logger: false }),
  },
  {
    name: 'Apollo on Express',
    graphqlModule: () =>
      GraphQLModule.forRoot<ApolloDriverConfig>({
        driver: ApolloDriver,
        typeDefs,
        fieldResolverEnhancers: ['interceptors'],
        graphiql: false,
      }),
    createApp: (moduleRef) => moduleRef.createNestApplication(new ExpressAdapter(), { logger: false }),
  },
]

describe.each(DRIVERS)(
  'GraphQL resolvers ($name): cache decorators, performance interceptor, cache modes (real Redis)',
  (driver) => {
    const redis = serviceUrls().redis
    const namespace = uniqueName('nest')
    const registry = new Registry()
    const events: RequestEvent[] = []
    let app: INestApplication
    let url: string
    let repository: InvoiceRepository
    let table: InvoiceTable

    async function graphql(
      query: string,
      variables: Record<string, unknown> = {},
      headers: Record<string, string> = {},
    ): Promise<GraphQLResponse> {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      })
      expect(response.status).toBe(200)
      return (await response.json()) as GraphQLResponse
    }

    beforeAll(async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [
          AyalaCacheModule.forRoot({
            redis,
            namespace,
            redisTimeout: '5s',
            isGlobal: true,
            honorCacheControl: true,
          }),
          AyalaMetricsModule.forRoot({ registry, logSlowRequests: false, quantiles: [0.5, 0.95, 0.99] }),
          driver.graphqlModule(),
          InvoicesModule,
        ],
      }).compile()
      app = driver.createApp(moduleRef)
      app.get(PerformanceEvents).on('request', (event) => events.push(event))
      await app.listen(0, '127.0.0.1')
      url = `${baseUrl(app)}/graphql`
      repository = app.get(InvoiceRepository)
      table = app.get(InvoiceTable)
    })

    afterAll(async () => {
      await app?.close()
      await deleteNamespaces(redis, [namespace])
    })

    beforeEach(() => {
      events.length = 0
    })

    it('runs the decorated repository method once for GraphQL and direct callers', async () => {
      table.rows.set('1', { id: '1', total: 10 })
      const before = repository.loads
      const query = 'query($id: ID!) { invoice(id: $id) { id total } }'
      expect(await graphql(query, { id: '1' })).toEqual({ data: { invoice: { id: '1', total: 10 } } })
      expect(await graphql(query, { id: '1' })).toEqual({ data: { invoice: { id: '1', total: 10 } } })
      expect(await repository.find('1')).toEqual({ id: '1', total: 10 })
      expect(repository.loads - before).toBe(1)
    })

    it('labels each root field by its type and name, with an exact cache breakdown per field', async () => {
      table.rows.set('10', { id: '10', total: 100 })
      table.rows.set('11', { id: '11', total: 110 })
      await repository.find('11')
      // One operation, two root fields resolved concurrently: each field is measured on its own,
      // and each counts only the cache activity it caused.
      const response = await graphql(
        'query Pair { first: invoice(id: "10") { total } second: invoice(id: "11") { total } }',
      )
      expect(response).toEqual({ data: { first: { total: 100 }, second: { total: 110 } } })
      const none = { l1Hits: 0, l2Hits: 0, misses: 0, stale: 0, coalesced: 0, bypassed: 0 }
      expect(
        events.map(({ transport, method, route, statusCode, cache }) => ({
          transport,
          method,
          route,
          statusCode,
          cache,
        })),
      ).toEqual(
        expect.arrayContaining([
          {
            transport: 'graphql',
            method: 'QUERY',
            route: 'Query.invoice',
            statusCode: 200,
            cache: { ...none, misses: 1, l1Hits: 1 },
          },
          {
            transport: 'graphql',
            method: 'QUERY',
            route: 'Query.invoice',
            statusCode: 200,
            cache: { ...none, l1Hits: 2 },
          },
        ]),
      )
      expect(events).toHaveLength(2)

      const families = parsePrometheusText(await registry.metrics())
      const name = 'ayala_http_request_cache_events_total'
      const labels = { method: 'QUERY', route: 'Query.invoice' }
      // First test: 1 miss + 3 L1 hits; this one: 1 miss + 3 L1 hits.
      expect(sampleValue(families, name, name, { ...labels, result: 'miss' })).toBe(2)
      expect(sampleValue(families, name, name, { ...labels, result: 'l1_hit' })).toBe(6)
      const count = 'ayala_http_request_duration_seconds'
      expect(sampleValue(families, count, `${count}_count`, { ...labels, status_code: '200' })).toBe(4)
      expect(
        samples(
          families,
          'ayala_http_request_duration_quantiles_seconds',
          'ayala_http_request_duration_quantiles_seconds',
          labels,
        ).map((s) => s.labels.quantile),
      ).toEqual(['0.5', '0.95', '0.99'])
    })

    it('labels mutations, and a mutation through @CacheInvalidate makes the next query load again', async () => {
      table.rows.set('20', { id: '20', total: 200 })
      const query = 'query($id: ID!) { invoice(id: $id) { total } }'
      expect(await graphql(query, { id: '20' })).toEqual({ data: { invoice: { total: 200 } } })
      const before = repository.loads
      expect(await graphql('mutation { updateInvoice(id: "20", total: 201) { total } }')).toEqual({
        data: { updateInvoice: { total: 201 } },
      })
      expect(await graphql(query, { id: '20' })).toEqual({ data: { invoice: { total: 201 } } })
      expect(repository.loads - before).toBe(1)
      expect(events.map((e) => `${e.method} ${e.route}`)).toEqual([
        'QUERY Query.invoice',
        'MUTATION Mutation.updateInvoice',
        'QUERY Query.invoice',
      ])
    })

    it('records a failed resolver with the status of its error', async () => {
      const response = await graphql('{ missingInvoice(id: "nope") { total } }')
      expect(response.errors?.map((e) => e.message)).toEqual(['no invoice nope'])
      expect(events.map((e) => [e.route, e.statusCode])).toEqual([['Query.missingInvoice', 404]])
      const families = parsePrometheusText(await registry.metrics())
      const name = 'ayala_http_request_duration_seconds'
      expect(
        sampleValue(families, name, `${name}_count`, {
          method: 'QUERY',
          route: 'Query.missingInvoice',
          status_code: '404',
        }),
      ).toBe(1)
    })

    it('applies @UseCacheMode on resolvers: bypass reads through, refresh overwrites the entry', async () => {
      table.rows.set('30', { id: '30', total: 300 })
      await repository.find('30')
      table.rows.set('30', { id: '30', total: 301 })
      const before = repository.loads
      expect(await graphql('{ liveInvoice(id: "30") { total } }')).toEqual({
        data: { liveInvoice: { total: 301 } },
      })
      // Bypass stored nothing: the cached value is still the old one.
      expect(await repository.find('30')).toEqual({ id: '30', total: 300 })
      expect(await graphql('{ refreshedInvoice(id: "30") { total } }')).toEqual({
        data: { refreshedInvoice: { total: 301 } },
      })
      expect(await repository.find('30')).toEqual({ id: '30', total: 301 })
      expect(repository.loads - before).toBe(2)
      expect(events.map((e) => [e.route, e.cache?.bypassed])).toEqual([
        ['Query.liveInvoice', 1],
        ['Query.refreshedInvoice', 1],
      ])
    })

    it("honours the GraphQL request's Cache-Control header when honorCacheControl is on", async () => {
      table.rows.set('40', { id: '40', total: 400 })
      await repository.find('40')
      table.rows.set('40', { id: '40', total: 401 })
      const before = repository.loads
      const query = '{ invoice(id: "40") { total } }'
      expect(await graphql(query, {}, { 'cache-control': 'no-store' })).toEqual({
        data: { invoice: { total: 401 } },
      })
      expect(await graphql(query)).toEqual({ data: { invoice: { total: 400 } } })
      expect(await graphql(query, {}, { 'cache-control': 'no-cache' })).toEqual({
        data: { invoice: { total: 401 } },
      })
      expect(await graphql(query)).toEqual({ data: { invoice: { total: 401 } } })
      // Two lookups per field: bypass and refresh load twice each, the default reads hit L1.
      expect(repository.loads - before).toBe(4)
    })

    it('measures field resolvers on their own and runs them in the request cache mode (fieldResolverEnhancers)', async () => {
      table.clients.set('c1', { id: 'c1', name: 'Acme' })
      table.rows.set('50', { id: '50', total: 500, clientId: 'c1' })
      const clients = app.get(ClientRepository)
      const query = '{ invoice(id: "50") { total client { name } } }'
      expect(await graphql(query)).toEqual({ data: { invoice: { total: 500, client: { name: 'Acme' } } } })
      expect(await graphql(query)).toEqual({ data: { invoice: { total: 500, client: { name: 'Acme' } } } })
      expect(clients.loads).toBe(1)
      const none = { l1Hits: 0, l2Hits: 0, misses: 0, stale: 0, coalesced: 0, bypassed: 0 }
      // The root field's breakdown holds only its own lookups; the nested field has its own.
      expect(events.map(({ method, route, cache }) => ({ method, route, cache }))).toEqual([
        { method: 'QUERY', route: 'Query.invoice', cache: { ...none, misses: 1, l1Hits: 1 } },
        { method: 'QUERY', route: 'Invoice.client', cache: { ...none, misses: 1 } },
        { method: 'QUERY', route: 'Query.invoice', cache: { ...none, l1Hits: 2 } },
        { method: 'QUERY', route: 'Invoice.client', cache: { ...none, l1Hits: 1 } },
      ])

      // The header's mode reaches the nested field's repository too.
      table.clients.set('c1', { id: 'c1', name: 'Acme Ltd' })
      expect(await graphql(query, {}, { 'cache-control': 'no-cache' })).toEqual({
        data: { invoice: { total: 500, client: { name: 'Acme Ltd' } } },
      })
      expect(await clients.find('c1')).toEqual({ id: 'c1', name: 'Acme Ltd' })
      expect(clients.loads).toBe(2)
    })
  },
)
