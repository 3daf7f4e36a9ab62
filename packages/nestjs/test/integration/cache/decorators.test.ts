import 'reflect-metadata'
import { Cacheable, CacheInvalidate, CachePut, createCache } from '@ayala/cache'
import { freePort, serviceUrls, uniqueName } from '@ayala/testkit'
import {
  Controller,
  Get,
  type INestApplication,
  Inject,
  Injectable,
  Module,
  Param,
  Put,
} from '@nestjs/common'
import { type ClientProxy, ClientProxyFactory, MessagePattern, Transport } from '@nestjs/microservices'
import { Test } from '@nestjs/testing'
import { firstValueFrom } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AyalaCacheModule, runWithCacheMode, UseNamedCache } from '../../../src/index.js'
import { baseUrl } from '../../helpers/http.js'
import { deleteNamespaces } from '../../helpers/redis.js'

interface Invoice {
  id: string
  total: number
}

@Injectable()
class InvoiceTable {
  readonly rows = new Map<string, Invoice>()
}

/**
 * A repository with the cache decorators of @ayala/cache, applied as legacy decorators (what Nest
 * uses); `loads` counts the real reads.
 */
@Injectable()
class InvoiceRepository {
  loads = 0
  constructor(@Inject(InvoiceTable) private readonly table: InvoiceTable) {}

  @Cacheable({ key: (id: string) => `invoice:${id}`, tags: (id: string) => [`invoice:${id}`], ttl: '1m' })
  async find(id: string): Promise<Invoice | null> {
    this.loads++
    await new Promise((resolve) => setTimeout(resolve, 5))
    return this.table.rows.get(id) ?? null
  }

  @CacheInvalidate({ tags: (id: string) => [`invoice:${id}`] })
  async update(id: string, total: number): Promise<void> {
    this.table.rows.set(id, { id, total })
  }

  @CachePut({ key: (id: string) => `invoice:${id}`, tags: (id: string) => [`invoice:${id}`] })
  async create(id: string, total: number): Promise<Invoice> {
    const row = { id, total }
    this.table.rows.set(id, row)
    return row
  }
}

@UseNamedCache('reports')
@Injectable()
class ReportRepository {
  loads = 0

  @Cacheable({ key: 'report:monthly', ttl: '1m' })
  async monthly(): Promise<{ total: number }> {
    this.loads++
    return { total: 42 }
  }
}

@Controller('invoices')
class InvoicesController {
  constructor(@Inject(InvoiceRepository) private readonly repository: InvoiceRepository) {}

  @Get(':id')
  find(@Param('id') id: string) {
    return this.repository.find(id)
  }

  @Put(':id/:total')
  async update(@Param('id') id: string, @Param('total') total: string) {
    await this.repository.update(id, Number(total))
    return { ok: true }
  }

  @MessagePattern('invoice.find')
  findMessage(id: string) {
    return this.repository.find(id)
  }
}

@Module({
  controllers: [InvoicesController],
  providers: [InvoiceTable, InvoiceRepository, ReportRepository],
})
class InvoicesModule {}

async function boot(redis: string, namespace: string, reportsNamespace: string, tcpPort?: number) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      AyalaCacheModule.forRoot({ redis, namespace, redisTimeout: '5s', isGlobal: true }),
      AyalaCacheModule.forRoot({ name: 'reports', redis, namespace: reportsNamespace, redisTimeout: '5s' }),
      InvoicesModule,
    ],
  }).compile()
  const app = moduleRef.createNestApplication({ logger: false })
  if (tcpPort !== undefined) {
    app.connectMicroservice(
      { transport: Transport.TCP, options: { host: '127.0.0.1', port: tcpPort } },
      { inheritAppConfig: true },
    )
    await app.startAllMicroservices()
  }
  await app.listen(0, '127.0.0.1')
  return app
}

describe('@Cacheable / @CacheInvalidate / @CachePut on a repository under Nest DI (real Redis)', () => {
  const redis = serviceUrls().redis
  const namespace = uniqueName('nest')
  const reports = uniqueName('nest')
  const otherNamespace = uniqueName('nest')
  let app: INestApplication
  let url: string
  let client: ClientProxy
  let repository: InvoiceRepository
  let table: InvoiceTable

  beforeAll(async () => {
    const port = await freePort()
    app = await boot(redis, namespace, reports, port)
    url = baseUrl(app)
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } })
    await client.connect()
    repository = app.get(InvoiceRepository)
    table = app.get(InvoiceTable)
  })

  afterAll(async () => {
    await client?.close()
    await app?.close()
    await deleteNamespaces(redis, [namespace, reports, otherNamespace])
  })

  it('runs the repository method once for HTTP, microservice and direct callers', async () => {
    table.rows.set('1', { id: '1', total: 10 })
    const before = repository.loads
    expect(await (await fetch(`${url}/invoices/1`)).json()).toEqual({ id: '1', total: 10 })
    expect(await (await fetch(`${url}/invoices/1`)).json()).toEqual({ id: '1', total: 10 })
    expect(await firstValueFrom(client.send('invoice.find', '1'))).toEqual({ id: '1', total: 10 })
    expect(await repository.find('1')).toEqual({ id: '1', total: 10 })
    expect(repository.loads - before).toBe(1)
  })

  it('coalesces 50 concurrent misses into one call of the method', async () => {
    table.rows.set('2', { id: '2', total: 20 })
    const before = repository.loads
    const results = await Promise.all(Array.from({ length: 50 }, () => repository.find('2')))
    expect(new Set(results.map((r) => JSON.stringify(r)))).toEqual(
      new Set([JSON.stringify({ id: '2', total: 20 })]),
    )
    expect(repository.loads - before).toBe(1)
  })

  it('invalidates after the write (@CacheInvalidate) and stores the result (@CachePut)', async () => {
    table.rows.set('3', { id: '3', total: 30 })
    await repository.find('3')
    const before = repository.loads
    expect((await fetch(`${url}/invoices/3/31`, { method: 'PUT' })).status).toBe(200)
    expect(await (await fetch(`${url}/invoices/3`)).json()).toEqual({ id: '3', total: 31 })
    expect(repository.loads - before).toBe(1)

    await repository.create('4', 40)
    expect(await repository.find('4')).toEqual({ id: '4', total: 40 })
    expect(repository.loads - before).toBe(1)
  })

  it('uses the module caches (named ones by @UseNamedCache), not a process-wide default', async () => {
    const reportRepository = app.get(ReportRepository)
    expect(await reportRepository.monthly()).toEqual({ total: 42 })
    expect(await reportRepository.monthly()).toEqual({ total: 42 })
    expect(reportRepository.loads).toBe(1)

    const reader = createCache({ redis, namespace: reports, redisTimeout: '5s' })
    const invoices = createCache({ redis, namespace, redisTimeout: '5s' })
    try {
      expect(await reader.get('report:monthly')).toEqual({ total: 42 })
      expect(await invoices.get('report:monthly')).toBeUndefined()
      expect(await invoices.get('invoice:1')).toEqual({ id: '1', total: 10 })
    } finally {
      await Promise.all([reader.close(), invoices.close()])
    }

    // A second application in the same process, with the same classes, keeps its own cache.
    const other = await boot(redis, otherNamespace, uniqueName('nest'))
    try {
      other.get(InvoiceTable).rows.set('1', { id: '1', total: 999 })
      expect(await other.get(InvoiceRepository).find('1')).toEqual({ id: '1', total: 999 })
      expect(await repository.find('1')).toEqual({ id: '1', total: 10 })
    } finally {
      await other.close()
    }
  })

  it('honours the request cache mode inside decorated methods', async () => {
    table.rows.set('5', { id: '5', total: 50 })
    await repository.find('5')
    table.rows.set('5', { id: '5', total: 55 })
    const before = repository.loads
    expect(await runWithCacheMode('bypass', () => repository.find('5'))).toEqual({ id: '5', total: 55 })
    expect(await repository.find('5')).toEqual({ id: '5', total: 50 })
    expect(await runWithCacheMode('refresh', () => repository.find('5'))).toEqual({ id: '5', total: 55 })
    expect(await repository.find('5')).toEqual({ id: '5', total: 55 })
    expect(repository.loads - before).toBe(2)
  })

  it('leaves providers unbound with bindProviders: false (the decorator then fails with E_CACHE_NOT_BOUND)', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        AyalaCacheModule.forRoot({
          redis,
          namespace: uniqueName('nest'),
          redisTimeout: '5s',
          bindProviders: false,
        }),
      ],
      providers: [InvoiceTable, InvoiceRepository],
    }).compile()
    const unbound = moduleRef.createNestApplication({ logger: false })
    await unbound.init()
    try {
      await expect(unbound.get(InvoiceRepository).find('1')).rejects.toMatchObject({
        code: 'E_CACHE_NOT_BOUND',
      })
    } finally {
      await unbound.close()
    }
  })
})
