/**
 * Microservice handlers, one suite run on two real transports: Nest's Redis transport (pub/sub on
 * the shared Redis, every pattern a unique name so no other test's channel is touched) and TCP.
 * A Nest microservice whose `@MessagePattern` / `@EventPattern` handlers call a repository with
 * the cache decorators (real Redis), measured by the performance interceptor of the metrics
 * module: each handler call labelled by its pattern and the transport, with its own cache
 * breakdown, in the events and in the Prometheus output (parsed).
 */
import 'reflect-metadata'
import { Cacheable, CacheInvalidate } from '@ayala/cache'
import { freePort, serviceUrls, uniqueName } from '@ayala/testkit'
import {
  Controller,
  type INestMicroservice,
  Inject,
  Injectable,
  Module,
  NotFoundException,
} from '@nestjs/common'
import {
  type ClientProxy,
  ClientProxyFactory,
  EventPattern,
  MessagePattern,
  Payload,
  RpcException,
  Transport,
} from '@nestjs/microservices'
import { Test } from '@nestjs/testing'
import { Registry } from 'prom-client'
import { firstValueFrom } from 'rxjs'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { AyalaCacheModule } from '../../../src/index.js'
import {
  AyalaMetricsModule,
  messagePatternRoute,
  PerformanceEvents,
  type RequestEvent,
} from '../../../src/metrics/index.js'
import { waitFor } from '../../helpers/http.js'
import { parsePrometheusText, sampleValue } from '../../helpers/prometheus-parser.js'
import { deleteNamespaces } from '../../helpers/redis.js'

// Unique per run: on the Redis transport a pattern is a pub/sub channel of the shared server.
const FIND = uniqueName('nest-invoice-find')
const MISSING = uniqueName('nest-invoice-missing')
const PAID = uniqueName('nest-invoice-paid')

interface Invoice {
  id: string
  total: number
}

interface PaidEvent {
  id: string
  total: number
}

@Injectable()
class InvoiceTable {
  readonly rows = new Map<string, Invoice>()
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
  async update(id: string, total: number): Promise<void> {
    this.table.rows.set(id, { id, total })
  }
}

@Controller()
class InvoicesMessages {
  constructor(@Inject(InvoiceRepository) private readonly repository: InvoiceRepository) {}

  // An object pattern, keys deliberately unsorted: labelled `{"cmd":"...","v":1}`.
  @MessagePattern({ v: 1, cmd: FIND })
  async find(@Payload() id: string): Promise<Invoice | null> {
    // Two lookups per call: the second is an L1 hit of the value the first one loaded or found.
    const invoice = await this.repository.find(id)
    await this.repository.find(id)
    return invoice
  }

  @MessagePattern(MISSING)
  async missing(@Payload() id: string): Promise<Invoice> {
    const invoice = await this.repository.find(id)
    if (invoice === null) throw new RpcException(new NotFoundException(`no invoice ${id}`).getResponse())
    return invoice
  }

  @EventPattern(PAID)
  async paid(@Payload() payload: unknown): Promise<void> {
    const event = payload as PaidEvent
    await this.repository.update(event.id, event.total)
  }
}

@Module({ controllers: [InvoicesMessages], providers: [InvoiceTable, InvoiceRepository] })
class InvoicesModule {}

/** One microservice transport: the server's options and the matching client's. */
interface TransportSetup {
  name: string
  method: string
  options(): Promise<
    | { transport: Transport.REDIS; options: { host: string; port: number } }
    | { transport: Transport.TCP; options: { host: string; port: number } }
  >
}

const redisUrl = new URL(serviceUrls().redis)

const TRANSPORTS: TransportSetup[] = [
  {
    name: 'Redis transport',
    method: 'REDIS',
    options: async () => ({
      transport: Transport.REDIS,
      options: { host: redisUrl.hostname, port: Number(redisUrl.port || 6379) },
    }),
  },
  {
    name: 'TCP transport',
    method: 'TCP',
    options: async () => ({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: await freePort() },
    }),
  },
]

describe.each(TRANSPORTS)(
  'microservice handlers ($name): pattern labels and cache breakdown (real Redis)',
  (setup) => {
    const redis = serviceUrls().redis
    const namespace = uniqueName('nest')
    const registry = new Registry()
    const events: RequestEvent[] = []
    const findRoute = `{"cmd":"${FIND}","v":1}`
    const none = { l1Hits: 0, l2Hits: 0, misses: 0, stale: 0, coalesced: 0, bypassed: 0 }
    let app: INestMicroservice
    let client: ClientProxy
    let repository: InvoiceRepository
    let table: InvoiceTable

    function labelled(event: RequestEvent) {
      const { transport, method, route, statusCode, cache } = event
      return { transport, method, route, statusCode, cache }
    }

    beforeAll(async () => {
      const options = await setup.options()
      const moduleRef = await Test.createTestingModule({
        imports: [
          AyalaCacheModule.forRoot({ redis, namespace, redisTimeout: '5s', isGlobal: true }),
          AyalaMetricsModule.forRoot({ registry, logSlowRequests: false }),
          InvoicesModule,
        ],
      }).compile()
      app = moduleRef.createNestMicroservice({ ...options, logger: false })
      app.get(PerformanceEvents).on('request', (event) => events.push(event))
      await app.listen()
      client = ClientProxyFactory.create(options)
      await client.connect()
      repository = app.get(InvoiceRepository)
      table = app.get(InvoiceTable)
    })

    afterAll(async () => {
      await client?.close()
      await app?.close()
      await deleteNamespaces(redis, [namespace])
    })

    beforeEach(() => {
      events.length = 0
    })

    it('labels a message handler by its pattern (object keys sorted) and the transport, with its cache breakdown', async () => {
      table.rows.set('1', { id: '1', total: 10 })
      const pattern = { cmd: FIND, v: 1 }
      expect(await firstValueFrom(client.send(pattern, '1'))).toEqual({ id: '1', total: 10 })
      expect(await firstValueFrom(client.send(pattern, '1'))).toEqual({ id: '1', total: 10 })
      expect(repository.loads).toBe(1)
      expect(messagePatternRoute({ v: 1, cmd: FIND })).toBe(findRoute)
      expect(events.map(labelled)).toEqual([
        {
          transport: 'rpc',
          method: setup.method,
          route: findRoute,
          statusCode: 200,
          cache: { ...none, misses: 1, l1Hits: 1 },
        },
        {
          transport: 'rpc',
          method: setup.method,
          route: findRoute,
          statusCode: 200,
          cache: { ...none, l1Hits: 2 },
        },
      ])

      const families = parsePrometheusText(await registry.metrics())
      const labels = { method: setup.method, route: findRoute }
      const cacheEvents = 'ayala_http_request_cache_events_total'
      expect(sampleValue(families, cacheEvents, cacheEvents, { ...labels, result: 'miss' })).toBe(1)
      expect(sampleValue(families, cacheEvents, cacheEvents, { ...labels, result: 'l1_hit' })).toBe(3)
      const duration = 'ayala_http_request_duration_seconds'
      expect(sampleValue(families, duration, `${duration}_count`, { ...labels, status_code: '200' })).toBe(2)
    })

    it('labels an event handler by its pattern; an event through @CacheInvalidate makes the next message load again', async () => {
      table.rows.set('2', { id: '2', total: 20 })
      expect(await firstValueFrom(client.send({ cmd: FIND, v: 1 }, '2'))).toEqual({ id: '2', total: 20 })
      const before = repository.loads
      await firstValueFrom(client.emit(PAID, { id: '2', total: 21 }))
      await waitFor(() => events.some((e) => e.route === PAID), `the ${PAID} event to be handled`)
      expect(await firstValueFrom(client.send({ cmd: FIND, v: 1 }, '2'))).toEqual({ id: '2', total: 21 })
      expect(repository.loads - before).toBe(1)
      expect(events.map((e) => `${e.method} ${e.route} ${e.statusCode}`)).toEqual([
        `${setup.method} ${findRoute} 200`,
        `${setup.method} ${PAID} 200`,
        `${setup.method} ${findRoute} 200`,
      ])
    })

    it('records a failed handler with status 500 under its pattern', async () => {
      await expect(firstValueFrom(client.send(MISSING, 'nope'))).rejects.toMatchObject({
        message: 'no invoice nope',
      })
      expect(events.map(labelled)).toEqual([
        {
          transport: 'rpc',
          method: setup.method,
          route: MISSING,
          statusCode: 500,
          cache: { ...none, misses: 1 },
        },
      ])
      const families = parsePrometheusText(await registry.metrics())
      const duration = 'ayala_http_request_duration_seconds'
      expect(
        sampleValue(families, duration, `${duration}_count`, {
          method: setup.method,
          route: MISSING,
          status_code: '500',
        }),
      ).toBe(1)
    })
  },
)
