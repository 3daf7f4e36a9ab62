import 'reflect-metadata'
import { defineIndex, type EngineKind, field, type SearchClient } from '@ayala/search'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Body, Controller, Get, type INestApplication, Inject, Injectable, Param, Post } from '@nestjs/common'
import { ConfigModule, ConfigService } from '@nestjs/config'
import { Test } from '@nestjs/testing'
import mariadb, { type Pool } from 'mariadb'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaMetricsModule } from '../../../src/metrics/index.js'
import {
  AYALA_SEARCH_CLIENT,
  AyalaSearchModule,
  getSearchRepositoryToken,
  InjectSearchRepository,
  type SearchRepositoryOf,
} from '../../../src/search/index.js'
import { baseUrl, waitFor } from '../../helpers/http.js'
import { parsePrometheusText, samples, sampleValue } from '../../helpers/prometheus-parser.js'

const services = serviceUrls()

/** Both real nodes of the harness: the module is one contract, run on each engine. */
const ENGINES: Array<{ engine: EngineKind; node: string }> = [
  { engine: 'elasticsearch', node: services.elasticsearch },
  { engine: 'opensearch', node: services.opensearch },
]

// One index name on both engines (separate servers); the tables are per engine (one MariaDB).
const invoices = defineIndex({
  name: uniqueName('nest-invoices'),
  id: 'id',
  fields: {
    id: field.keyword(),
    client: field.keyword(),
    description: field.text({ analyzer: 'standard' }),
    total: field.integer(),
  },
})

function pool(): Pool {
  const url = new URL(services.database)
  return mariadb.createPool({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
    database: url.pathname.slice(1) || 'test',
    connectionLimit: 4,
    bigIntAsNumber: true,
    insertIdAsNumber: true,
  })
}

interface NewInvoice {
  id: string
  client: string
  description: string
  total: number
}

/** A repository whose writes index themselves: the row and its outbox event commit together. */
@Injectable()
class InvoiceService {
  constructor(
    @Inject('DB') private readonly db: Pool,
    @Inject('INVOICE_TABLE') private readonly table: string,
    @InjectSearchRepository(invoices) private readonly search: SearchRepositoryOf<typeof invoices>,
  ) {}

  async create(invoice: NewInvoice, fail = false): Promise<void> {
    const tx = await this.db.getConnection()
    try {
      await tx.beginTransaction()
      await tx.query(
        `INSERT INTO ${this.table} (id, client, description, total, version) VALUES (?, ?, ?, ?, 1)`,
        [invoice.id, invoice.client, invoice.description, invoice.total],
      )
      await this.search.enqueueUpsert(tx, invoice, 1)
      if (fail) throw new Error('rolled back on purpose')
      await tx.commit()
    } catch (error) {
      await tx.rollback()
      throw error
    } finally {
      await tx.release()
    }
  }

  async byClient(client: string) {
    const { hits } = await this.search.search({ filter: this.search.q.term('client', client), size: 50 })
    return hits.map((hit) => hit.source)
  }

  async text(words: string) {
    const { hits } = await this.search.search({ query: this.search.q.match('description', words) })
    return hits.map((hit) => hit.id)
  }
}

@Controller('invoices')
class InvoicesController {
  constructor(@Inject(InvoiceService) private readonly service: InvoiceService) {}

  @Post()
  async create(@Body() invoice: NewInvoice) {
    await this.service.create(invoice)
    return { ok: true }
  }

  @Get('client/:client')
  byClient(@Param('client') client: string) {
    return this.service.byClient(client)
  }
}

describe.each(ENGINES)(
  'AyalaSearchModule on $engine: typed repositories and the outbox worker (real engine + MariaDB)',
  ({ engine, node }) => {
    const table = uniqueName(`nest_invoices_${engine}`).replace(/-/g, '_')
    const outboxTable = uniqueName(`nest_outbox_${engine}`).replace(/-/g, '_')
    const db = pool()
    const registry = new Registry()
    let app: INestApplication
    let url: string

    beforeAll(async () => {
      await db.query(
        `CREATE TABLE ${table} (id VARCHAR(64) PRIMARY KEY, client VARCHAR(64), description TEXT, total INT, version INT)`,
      )
      const moduleRef = await Test.createTestingModule({
        imports: [
          ConfigModule.forRoot({
            ignoreEnvFile: true,
            load: [() => ({ search: { node } })],
          }),
          // The deprecated quantile gauge too, to check it is still there behind its option.
          AyalaMetricsModule.forRoot({ registry, legacySearchLatencyGauge: true }),
          AyalaSearchModule.forRootAsync({
            isGlobal: true,
            indexes: [invoices],
            imports: [ConfigModule],
            inject: [ConfigService],
            useFactory: (config: ConfigService) => ({
              client: { node: config.getOrThrow<string>('search.node'), engine },
              ensureIndexes: true,
              outbox: { db, table: outboxTable, worker: { pollInterval: '50ms' } },
            }),
          }),
        ],
        controllers: [InvoicesController],
        providers: [
          InvoiceService,
          { provide: 'DB', useValue: db },
          { provide: 'INVOICE_TABLE', useValue: table },
        ],
      }).compile()
      app = moduleRef.createNestApplication({ logger: false })
      await app.listen(0, '127.0.0.1')
      url = baseUrl(app)
    })

    afterAll(async () => {
      const client = app?.get<SearchClient>(AYALA_SEARCH_CLIENT)
      const raw = await client?.raw()
      await raw?.indices.delete({ index: invoices.name, ignore_unavailable: true })
      // ensureIndexes installs a template that recreates the index from its definition.
      await raw?.indices.deleteIndexTemplate({ name: `ayala-search-${invoices.name}` }, { ignore: [404] })
      await app?.close()
      await db.query(`DROP TABLE IF EXISTS ${table}`)
      await db.query(`DROP TABLE IF EXISTS ${outboxTable}`)
      await db.end()
    })

    it('creates the index at start-up and indexes committed writes through the outbox worker', async () => {
      const client = app.get<SearchClient>(AYALA_SEARCH_CLIENT)
      expect(await (await client.raw()).indices.exists({ index: invoices.name })).toBe(true)

      for (const [id, description] of [
        ['A-1', 'reparación de tejado'],
        ['A-2', 'instalación eléctrica'],
      ] as const) {
        const response = await fetch(`${url}/invoices`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id, client: 'acme', description, total: 100 }),
        })
        expect(response.status).toBe(201)
      }
      const service = app.get(InvoiceService)
      await expect(
        service.create({ id: 'A-3', client: 'acme', description: 'never committed', total: 1 }, true),
      ).rejects.toThrow('rolled back on purpose')

      const repository = app.get<SearchRepositoryOf<typeof invoices>>(getSearchRepositoryToken(invoices))
      await waitFor(async () => {
        await repository.refresh()
        return (await service.byClient('acme')).length === 2
      }, 'both committed invoices searchable')
      const found = (await (await fetch(`${url}/invoices/client/acme`)).json()) as NewInvoice[]
      expect(found.map((i) => i.id).sort()).toEqual(['A-1', 'A-2'])
      expect(await service.text('tejado')).toEqual(['A-1'])
      const families = parsePrometheusText(await (await fetch(`${url}/metrics`)).text())
      const searches = client.latency().count
      expect(searches).toBeGreaterThanOrEqual(3)
      expect(sampleValue(families, 'ayala_search_requests_total', 'ayala_search_requests_total')).toBe(
        searches,
      )
      // The latency is a histogram: cumulative buckets ending with +Inf = the count, a sum in seconds.
      const histogram = 'ayala_search_request_duration_seconds'
      expect(families.get(histogram)?.type).toBe('histogram')
      expect(sampleValue(families, histogram, `${histogram}_count`)).toBe(searches)
      const buckets = samples(families, histogram, `${histogram}_bucket`)
      expect(buckets.map((b) => b.labels.le)).toEqual([
        '0.001',
        '0.0025',
        '0.005',
        '0.01',
        '0.025',
        '0.05',
        '0.1',
        '0.25',
        '0.5',
        '1',
        '2.5',
        '5',
        '10',
        '+Inf',
      ])
      expect(buckets.at(-1)?.value).toBe(searches)
      for (let i = 1; i < buckets.length; i++) {
        expect(buckets[i]?.value).toBeGreaterThanOrEqual(buckets[i - 1]?.value ?? 0)
      }
      expect(sampleValue(families, histogram, `${histogram}_sum`)).toBeGreaterThan(0)
      const p50 = sampleValue(families, 'ayala_search_latency_seconds', 'ayala_search_latency_seconds', {
        quantile: '0.5',
      })
      expect(p50).toBeGreaterThan(0)
      const rows = (await db.query(`SELECT COUNT(*) AS n FROM ${table}`)) as Array<{ n: number }>
      expect(rows[0]?.n).toBe(2)
    })

    it('rejects a repository write when no outbox is configured, and bad options by name', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [
          AyalaSearchModule.forRoot({
            client: { node, engine },
            indexes: [invoices],
          }),
        ],
      }).compile()
      const other = moduleRef.createNestApplication({ logger: false })
      await other.init()
      try {
        const repository = other.get<SearchRepositoryOf<typeof invoices>>(getSearchRepositoryToken(invoices))
        expect(() => repository.enqueueDelete(db, 'x', 1)).toThrow(
          expect.objectContaining({ option: 'outbox' }),
        )
      } finally {
        await other.close()
      }
      expect(() => AyalaSearchModule.forRoot({ client: { node, engine }, indexes: [{} as never] })).toThrow(
        expect.objectContaining({ option: 'indexes' }),
      )
    })
  },
)
