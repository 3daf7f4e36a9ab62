import 'reflect-metadata'
import type { DeliveryOutcome, Outbox, OutboxDelivery, OutboxRelay, OutboxSink } from '@ayala/outbox'
import { serviceUrls, uniqueName } from '@ayala/testkit'
import {
  Controller,
  Get,
  Global,
  HttpCode,
  type INestApplication,
  Inject,
  Module,
  Param,
  Post,
} from '@nestjs/common'
import { HealthCheck, HealthCheckService } from '@nestjs/terminus'
import { Test } from '@nestjs/testing'
import { createPool, type Pool } from 'mariadb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaHealthModule, OutboxHealthIndicator } from '../../../src/health/index.js'
import { AyalaMetricsModule } from '../../../src/metrics/index.js'
import {
  AYALA_OUTBOX_RELAY,
  AyalaOutboxModule,
  InjectOutbox,
  InjectOutboxRelay,
} from '../../../src/outbox/index.js'
import { baseUrl, waitFor } from '../../helpers/http.js'
import { parsePrometheusText, sampleValue } from '../../helpers/prometheus-parser.js'

const POOL = Symbol('pool')

/** A sink the test can take down: what a search engine or broker outage looks like to the relay. */
class SwitchableSink implements OutboxSink<{ id: number }> {
  down = false
  readonly delivered: number[] = []
  async deliver(items: readonly OutboxDelivery<{ id: number }>[]): Promise<readonly DeliveryOutcome[]> {
    if (this.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    for (const item of items) this.delivered.push(item.payload.id)
    return items.map(() => ({ status: 'done' }) as const)
  }
}

describe('AyalaOutboxModule (real MariaDB)', () => {
  let app: INestApplication
  let pool: Pool
  const sink = new SwitchableSink()
  const table = uniqueName('outbox').replace(/-/g, '_')
  const items = uniqueName('items').replace(/-/g, '_')

  beforeAll(async () => {
    const url = new URL(serviceUrls().database)
    pool = createPool({
      host: url.hostname,
      port: Number(url.port || 3306),
      user: decodeURIComponent(url.username || 'root'),
      password: decodeURIComponent(url.password),
      database: url.pathname.slice(1) || 'test',
      connectionLimit: 4,
    })
    await pool.query(`CREATE TABLE ${items} (id INT PRIMARY KEY)`)

    @Controller('items')
    class ItemsController {
      constructor(
        @InjectOutbox() private readonly outbox: Outbox,
        @Inject(POOL) private readonly db: Pool,
      ) {}

      @Post(':id')
      @HttpCode(201)
      async create(@Param('id') id: string): Promise<{ id: number }> {
        const connection = await this.db.getConnection()
        try {
          await connection.beginTransaction()
          await connection.query(`INSERT INTO ${items} (id) VALUES (?)`, [Number(id)])
          await this.outbox.enqueue(connection, { sink: 'copy', payload: { id: Number(id) } })
          await connection.commit()
        } finally {
          await connection.release()
        }
        return { id: Number(id) }
      }
    }

    @Controller('health')
    class HealthController {
      constructor(
        @Inject(HealthCheckService) private readonly health: HealthCheckService,
        @Inject(OutboxHealthIndicator) private readonly outbox: OutboxHealthIndicator,
        @InjectOutboxRelay() private readonly relay: OutboxRelay,
      ) {}

      @Get()
      @HealthCheck()
      check() {
        return this.health.check([() => this.outbox.check('outbox', { relay: this.relay })])
      }
    }

    @Global()
    @Module({ providers: [{ provide: POOL, useValue: pool }], exports: [POOL] })
    class DatabaseModule {}

    const moduleRef = await Test.createTestingModule({
      imports: [
        DatabaseModule,
        AyalaOutboxModule.forRootAsync({
          isGlobal: true,
          useFactory: (db: Pool) => ({
            db,
            table,
            sinks: { copy: sink },
            relay: { pollInterval: 20, retryDelay: 20, maxRetryDelay: 100, downAfter: '1500ms' },
          }),
          inject: [POOL],
        }),
        AyalaHealthModule,
        AyalaMetricsModule.forRoot({ isGlobal: true }),
      ],
      controllers: [ItemsController, HealthController],
    }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    await app.listen(0, '127.0.0.1')
  })

  afterAll(async () => {
    await app?.close()
    await pool.query(`DROP TABLE IF EXISTS ${items}`)
    await pool.query(`DROP TABLE IF EXISTS ${table}`)
    await pool.end()
  })

  const post = (id: number) => fetch(`${baseUrl(app)}/items/${id}`, { method: 'POST' })
  const health = async () => {
    const response = await fetch(`${baseUrl(app)}/health`)
    return { status: response.status, body: (await response.json()) as Record<string, any> }
  }

  it('creates the table, relays committed effects, reports an outage and heals', async () => {
    for (let id = 1; id <= 5; id++) expect((await post(id)).status).toBe(201)
    await waitFor(() => sink.delivered.length === 5, 'five deliveries')
    expect((await health()).status).toBe(200)

    sink.down = true
    for (let id = 6; id <= 10; id++) expect((await post(id)).status).toBe(201) // writes never fail on a copy
    await waitFor(async () => (await health()).body.details?.outbox?.state === 'degraded', 'degraded')
    await waitFor(async () => (await health()).status === 503, 'down after downAfter')
    const down = await health()
    expect(down.body.details.outbox.status).toBe('down')

    const text = await (await fetch(`${baseUrl(app)}/metrics`)).text()
    const metrics = parsePrometheusText(text)
    const value = (name: string) => sampleValue(metrics, name, name, { sink: 'copy' })
    expect(value('ayala_outbox_pending_effects')).toBe(5)
    expect(value('ayala_outbox_delivered_total')).toBe(5)
    expect(value('ayala_outbox_failed_batches_total')).toBeGreaterThan(0)
    expect(value('ayala_outbox_oldest_pending_age_seconds')).toBeGreaterThan(1)

    sink.down = false
    await waitFor(() => sink.delivered.length === 10, 'ten deliveries after the outage')
    expect([...sink.delivered].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    await waitFor(async () => (await health()).status === 200, 'healthy again')
  })

  it('stops the relay at shutdown and leaves the borrowed pool open', async () => {
    const relay = app.get<OutboxRelay>(AYALA_OUTBOX_RELAY)
    expect(relay.running).toBe(true)
    await app.close()
    expect(relay.running).toBe(false)
    expect(await pool.query('SELECT 1 AS one')).toEqual([{ one: 1 }])
  })
})
