import 'reflect-metadata'
import {
  createSearchClient,
  defineIndex,
  type EngineKind,
  field,
  indexTemplateName,
  type Outbox,
  type SearchClient,
  sqlReconcileSource,
} from '@ayala/search'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Controller, Get, type INestApplication, Inject } from '@nestjs/common'
import { HealthCheck, HealthCheckService } from '@nestjs/terminus'
import { Test } from '@nestjs/testing'
import mariadb, { type Pool } from 'mariadb'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaHealthModule, SearchHealthIndicator } from '../../../src/health/index.js'
import { AyalaMetricsModule } from '../../../src/metrics/index.js'
import {
  AYALA_SEARCH_CLIENT,
  AYALA_SEARCH_OUTBOX,
  AYALA_SEARCH_SYNC,
  AyalaSearchModule,
  type SearchSync,
} from '../../../src/search/index.js'
import { baseUrl, waitFor } from '../../helpers/http.js'
import { parsePrometheusText, sampleValue } from '../../helpers/prometheus-parser.js'

const services = serviceUrls()

const ENGINES: Array<{ engine: EngineKind; node: string }> = [
  { engine: 'elasticsearch', node: services.elasticsearch },
  { engine: 'opensearch', node: services.opensearch },
]

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

interface HealthBody {
  status: string
  details: Record<string, { status: string; state?: string; reasons?: string[]; message?: string }>
}

const toDoc = (row: Record<string, unknown>) => ({
  id: Number(row.id),
  version: Number(row.version),
  client: String(row.client),
  total: Number(row.total),
})

describe.each(ENGINES)(
  'AyalaSearchModule on $engine: start-up backfill, scheduled reconcile and the sync health check',
  ({ engine, node }) => {
    const invoices = defineIndex({
      name: uniqueName('nest-sync'),
      id: 'id',
      fields: { id: field.long(), version: field.long(), client: field.keyword(), total: field.integer() },
    })
    const table = uniqueName(`nest_sync_${engine}`).replace(/-/g, '_')
    const outboxTable = uniqueName(`nest_sync_ob_${engine}`).replace(/-/g, '_')
    const db = pool()
    let app: INestApplication
    let url: string

    beforeAll(async () => {
      await db.query(
        `CREATE TABLE ${table} (id INT PRIMARY KEY, version INT NOT NULL, client VARCHAR(32) NOT NULL, total INT NOT NULL)`,
      )
      const values: unknown[] = []
      for (let id = 1; id <= 1_500; id++) values.push(id, 1, `c${id % 7}`, id * 10)
      await db.query(
        `INSERT INTO ${table} (id, version, client, total) VALUES ${Array.from({ length: 1_500 }, () => '(?, ?, ?, ?)').join(', ')}`,
        values,
      )

      @Controller('health')
      class HealthController {
        constructor(
          @Inject(HealthCheckService) private readonly health: HealthCheckService,
          @Inject(SearchHealthIndicator) private readonly search: SearchHealthIndicator,
          @Inject(AYALA_SEARCH_SYNC) private readonly sync: SearchSync,
        ) {}

        @Get()
        @HealthCheck()
        check() {
          return this.health.check([() => this.search.syncCheck('search-sync', { sync: this.sync })])
        }

        @Get('strict')
        @HealthCheck()
        strict() {
          return this.health.check([
            () => this.search.syncCheck('search-sync', { sync: this.sync, maxOutboxAge: '300ms' }),
          ])
        }
      }

      const moduleRef = await Test.createTestingModule({
        imports: [
          AyalaMetricsModule.forRoot({ registry: new Registry() }),
          AyalaHealthModule,
          AyalaSearchModule.forRoot({
            client: { node, engine },
            indexes: [invoices],
            ensureIndexes: true,
            outbox: { db, table: outboxTable, worker: { pollInterval: '50ms', retries: 0 } },
            reconcile: [
              {
                index: invoices.name,
                source: sqlReconcileSource({ db, table, toDocument: toDoc }),
                interval: '2s',
                options: { versionField: 'version' },
              },
            ],
          }),
        ],
        controllers: [HealthController],
      }).compile()
      app = moduleRef.createNestApplication({ logger: false })
      await app.listen(0, '127.0.0.1')
      url = baseUrl(app)
    })

    afterAll(async () => {
      const probe = createSearchClient({ node, engine })
      await app?.close()
      const raw = await probe.raw()
      await raw.indices.delete({ index: invoices.name, ignore_unavailable: true })
      await raw.indices.deleteIndexTemplate({ name: indexTemplateName(invoices.name) }, { ignore: [404] })
      await probe.close()
      await db.query(`DROP TABLE IF EXISTS ${table}`)
      await db.query(`DROP TABLE IF EXISTS ${outboxTable}`)
      await db.end()
    })

    async function health(path = '/health'): Promise<{ status: number; body: HealthBody }> {
      const response = await fetch(`${url}${path}`)
      return { status: response.status, body: (await response.json()) as HealthBody }
    }

    async function indexedCount(): Promise<number> {
      const raw = await app.get<SearchClient>(AYALA_SEARCH_CLIENT).raw()
      await raw.indices.refresh({ index: invoices.name })
      return (await raw.count({ index: invoices.name })).count
    }

    it('an app started on an empty engine backfills the index from the table; health ok', async () => {
      expect(await indexedCount()).toBe(1_500)
      const { status, body } = await health()
      expect(status).toBe(200)
      expect(body.details['search-sync']).toMatchObject({ status: 'up', state: 'ok' })
    })

    it('the index deleted while the app runs: health down, then the schedule repairs it', async () => {
      const client = app.get<SearchClient>(AYALA_SEARCH_CLIENT)
      const sync = app.get<SearchSync>(AYALA_SEARCH_SYNC)
      const reconciler = sync.reconciler(invoices.name)
      const raw = await client.raw()
      const runsBefore = reconciler?.stats().runs ?? 0
      await raw.indices.delete({ index: invoices.name })
      const down = await health()
      if (down.status === 503) {
        expect(down.body.details['search-sync']).toMatchObject({ status: 'down' })
        expect(down.body.details['search-sync']?.message).toMatch(/missing/)
      } else {
        // A scheduled run (every 2 s) recreated it between the delete and the check.
        expect((reconciler?.stats().runs ?? 0) > runsBefore).toBe(true)
      }
      await waitFor(async () => (await health()).status === 200, 'health back after the repair', 60_000)
      await waitFor(async () => (await indexedCount()) === 1_500, 'index repaired', 60_000)
      expect(reconciler?.stats()).toMatchObject({ remaining: 0 })
      expect((await health()).body.details['search-sync']).toMatchObject({ status: 'up', state: 'ok' })
    })

    it('a write-blocked index makes health degraded once the oldest pending event is older than maxOutboxAge', async () => {
      const client = app.get<SearchClient>(AYALA_SEARCH_CLIENT)
      const outbox = app.get<Outbox>(AYALA_SEARCH_OUTBOX)
      const raw = await client.raw()
      await raw.indices.putSettings({ index: invoices.name, settings: { 'index.blocks.write': true } })
      try {
        await db.query(`UPDATE ${table} SET version = 2, total = 1 WHERE id = 1`)
        await outbox.enqueue(db, {
          op: 'upsert',
          index: invoices.name,
          id: '1',
          version: 2,
          document: { id: 1, version: 2, client: 'c1', total: 1 },
        })
        await waitFor(
          async () => (await health('/health/strict')).body.details['search-sync']?.state === 'degraded',
          'degraded',
        )
        const { status, body } = await health('/health/strict')
        expect(status).toBe(200)
        expect(body.details['search-sync']?.reasons?.join(' ')).toMatch(
          /oldest pending outbox event.*cluster_block_exception/,
        )
        expect((await outbox.lag(db, { retries: 0 })).dead).toBe(0)
      } finally {
        await raw.indices.putSettings({ index: invoices.name, settings: { 'index.blocks.write': false } })
      }
      await waitFor(
        async () => (await health('/health/strict')).body.details['search-sync']?.state === 'ok',
        'ok again',
        60_000,
      )
      const doc = await raw.get<{ total: number }>({ index: invoices.name, id: '1' })
      expect(doc._version).toBe(2)
      expect(doc._source?.total).toBe(1)
    })

    it('a dead letter makes health degraded (200, with the reason) while the index stays equal', async () => {
      const outbox = app.get<Outbox>(AYALA_SEARCH_OUTBOX)
      await outbox.enqueue(db, {
        op: 'upsert',
        index: invoices.name,
        id: '99999',
        version: 1,
        document: { id: 99_999, version: 1, client: 'x', total: 'not a number' },
      })
      await waitFor(async () => (await outbox.lag(db, { retries: 0 })).dead === 1, 'dead letter kept')
      const { status, body } = await health()
      expect(status).toBe(200)
      expect(body.details['search-sync']).toMatchObject({ status: 'up', state: 'degraded' })
      expect(body.details['search-sync']?.reasons?.join(' ')).toMatch(/dead-lettered/)
      const families = parsePrometheusText(await (await fetch(`${url}/metrics`)).text())
      expect(
        sampleValue(families, 'ayala_search_outbox_dead_letters', 'ayala_search_outbox_dead_letters'),
      ).toBe(1)
      expect(
        sampleValue(families, 'ayala_search_index_exists', 'ayala_search_index_exists', {
          index: invoices.name,
        }),
      ).toBe(1)
      expect(
        sampleValue(
          families,
          'ayala_search_index_drift_remaining_documents',
          'ayala_search_index_drift_remaining_documents',
          {
            index: invoices.name,
          },
        ),
      ).toBe(0)
      await db.query(`DELETE FROM ${outboxTable}`)
      expect((await health()).body.details['search-sync']).toMatchObject({ state: 'ok' })
    })
  },
)
