import 'reflect-metadata'
import { type Cache, CacheError, createCache } from '@ayala/cache'
import { freePort, serviceUrls, uniqueName } from '@ayala/testkit'
import {
  Controller,
  Get,
  Headers,
  type INestApplication,
  Inject,
  Injectable,
  Module,
  Param,
} from '@nestjs/common'
import { ConfigModule, ConfigService } from '@nestjs/config'
import { type ClientProxy, ClientProxyFactory, MessagePattern, Transport } from '@nestjs/microservices'
import { Test } from '@nestjs/testing'
import { firstValueFrom } from 'rxjs'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  AYALA_CACHE,
  AyalaCacheModule,
  currentCacheMode,
  InjectCache,
  runWithCacheMode,
  UseCacheMode,
} from '../../../src/index.js'
import { baseUrl, waitFor } from '../../helpers/http.js'
import { deferred, deleteNamespaces } from '../../helpers/redis.js'

/** The "database": rows and a count of reads. */
@Injectable()
class InvoiceTable {
  readonly rows = new Map<string, { id: string; total: number }>()
  reads = 0
  gate: Promise<void> | undefined
  loading = 0

  async read(id: string): Promise<{ id: string; total: number } | null> {
    this.reads++
    this.loading++
    try {
      if (this.gate) await this.gate
      return this.rows.get(id) ?? null
    } finally {
      this.loading--
    }
  }
}

@Injectable()
class InvoiceRepository {
  constructor(
    @Inject(InvoiceTable) private readonly table: InvoiceTable,
    @InjectCache() private readonly cache: Cache,
  ) {}

  find(id: string) {
    return this.cache.getOrSet(`invoice:${id}`, () => this.table.read(id), {
      ttl: '1m',
      tags: [`invoice:${id}`],
    })
  }

  async update(id: string, total: number): Promise<void> {
    this.table.rows.set(id, { id, total })
    await this.cache.invalidateTags([`invoice:${id}`])
  }
}

@Controller('invoices')
class InvoicesController {
  constructor(@Inject(InvoiceRepository) private readonly repository: InvoiceRepository) {}

  @Get('mode')
  mode(@Headers('cache-control') _header: string | undefined): { mode: string } {
    return { mode: currentCacheMode() }
  }

  @Get('admin/:id')
  @UseCacheMode('bypass')
  admin(@Param('id') id: string) {
    return this.repository.find(id)
  }

  @Get(':id')
  find(@Param('id') id: string) {
    return this.repository.find(id)
  }

  @MessagePattern('invoice.find')
  findMessage(id: string) {
    return this.repository.find(id)
  }

  @MessagePattern('invoice.find.fresh')
  @UseCacheMode('refresh')
  findFresh(id: string) {
    return this.repository.find(id)
  }
}

@Module({ providers: [InvoiceTable, InvoiceRepository], exports: [InvoiceTable, InvoiceRepository] })
class InvoicesModule {}

describe('AyalaCacheModule under Nest DI (real Redis, HTTP and TCP microservice)', () => {
  const redis = serviceUrls().redis
  const namespace = uniqueName('nest')
  let app: INestApplication
  let url: string
  let client: ClientProxy
  let table: InvoiceTable
  let repository: InvoiceRepository

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          load: [() => ({ cache: { redis, namespace } })],
        }),
        AyalaCacheModule.forRootAsync({
          isGlobal: true,
          honorCacheControl: true,
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            redis: config.getOrThrow<string>('cache.redis'),
            namespace: config.getOrThrow<string>('cache.namespace'),
            redisTimeout: '5s',
          }),
        }),
        InvoicesModule,
      ],
      controllers: [InvoicesController],
    }).compile()
    app = moduleRef.createNestApplication({ logger: false })
    const port = await freePort()
    // Global interceptors (the cache-mode one) reach a hybrid app's microservice only with inheritAppConfig.
    app.connectMicroservice(
      { transport: Transport.TCP, options: { host: '127.0.0.1', port } },
      { inheritAppConfig: true },
    )
    await app.startAllMicroservices()
    await app.listen(0, '127.0.0.1')
    url = baseUrl(app)
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } })
    await client.connect()
    table = app.get(InvoiceTable)
    repository = app.get(InvoiceRepository)
  })

  afterAll(async () => {
    await client?.close()
    await app?.close()
    await deleteNamespaces(redis, [namespace])
  })

  beforeEach(() => {
    table.rows.clear()
    table.reads = 0
  })

  it('injects the cache from the module (the same instance by token and by @InjectCache)', () => {
    const cache = app.get<Cache>(AYALA_CACHE)
    expect(cache.options.namespace).toBe(namespace)
    expect(typeof cache.getOrSet).toBe('function')
  })

  it('caches a repository read across HTTP, a microservice message and a direct provider call', async () => {
    table.rows.set('1', { id: '1', total: 100 })
    expect(await (await fetch(`${url}/invoices/1`)).json()).toEqual({ id: '1', total: 100 })
    expect(await (await fetch(`${url}/invoices/1`)).json()).toEqual({ id: '1', total: 100 })
    expect(await firstValueFrom(client.send('invoice.find', '1'))).toEqual({ id: '1', total: 100 })
    expect(await repository.find('1')).toEqual({ id: '1', total: 100 })
    expect(table.reads).toBe(1)

    // A second instance on the same Redis namespace reads the entry from L2.
    const other = createCache({ redis, namespace, redisTimeout: '5s' })
    try {
      expect(await other.get('invoice:1')).toEqual({ id: '1', total: 100 })
    } finally {
      await other.close()
    }

    await repository.update('1', 250)
    expect(await (await fetch(`${url}/invoices/1`)).json()).toEqual({ id: '1', total: 250 })
    expect(table.reads).toBe(2)
  })

  it('Cache-Control: no-cache refreshes (loads and overwrites), no-store bypasses (loads, stores nothing)', async () => {
    table.rows.set('2', { id: '2', total: 1 })
    await repository.find('2')
    table.rows.set('2', { id: '2', total: 2 }) // changed behind the cache's back
    expect(await (await fetch(`${url}/invoices/2`)).json()).toEqual({ id: '2', total: 1 })

    const bypass = await fetch(`${url}/invoices/2`, { headers: { 'cache-control': 'no-store' } })
    expect(await bypass.json()).toEqual({ id: '2', total: 2 })
    expect(await (await fetch(`${url}/invoices/2`)).json()).toEqual({ id: '2', total: 1 })

    const refresh = await fetch(`${url}/invoices/2`, { headers: { 'cache-control': 'no-cache' } })
    expect(await refresh.json()).toEqual({ id: '2', total: 2 })
    expect(await (await fetch(`${url}/invoices/2`)).json()).toEqual({ id: '2', total: 2 })
    expect(table.reads).toBe(3)

    expect(
      await (await fetch(`${url}/invoices/mode`, { headers: { 'cache-control': 'no-cache' } })).json(),
    ).toEqual({
      mode: 'refresh',
    })
    expect(await (await fetch(`${url}/invoices/mode`)).json()).toEqual({ mode: 'default' })
  })

  it('@UseCacheMode applies on HTTP handlers and on microservice handlers', async () => {
    table.rows.set('3', { id: '3', total: 3 })
    await repository.find('3')
    table.rows.set('3', { id: '3', total: 33 })
    expect(await (await fetch(`${url}/invoices/admin/3`)).json()).toEqual({ id: '3', total: 33 })
    expect(await repository.find('3')).toEqual({ id: '3', total: 3 })
    expect(await firstValueFrom(client.send('invoice.find.fresh', '3'))).toEqual({ id: '3', total: 33 })
    expect(await repository.find('3')).toEqual({ id: '3', total: 33 })
    expect(table.reads).toBe(3)
  })

  it('runWithCacheMode applies to direct provider calls and to everything they start', async () => {
    table.rows.set('4', { id: '4', total: 4 })
    await repository.find('4')
    table.rows.set('4', { id: '4', total: 44 })
    expect(await runWithCacheMode('bypass', () => repository.find('4'))).toEqual({ id: '4', total: 44 })
    expect(await repository.find('4')).toEqual({ id: '4', total: 4 })
    const cache = app.get<Cache>(AYALA_CACHE)
    expect(await runWithCacheMode('bypass', () => cache.get('invoice:4'))).toBeUndefined()
    expect(
      await runWithCacheMode('refresh', async () => {
        await new Promise((resolve) => setTimeout(resolve, 1))
        return repository.find('4')
      }),
    ).toEqual({ id: '4', total: 44 })
    expect(await cache.get('invoice:4')).toEqual({ id: '4', total: 44 })
    expect(() => runWithCacheMode('sometimes' as never, () => 1)).toThrow(
      expect.objectContaining({ code: 'E_NEST_INVALID_OPTION', option: 'mode' }),
    )
  })

  it('applies the modes to getMany, getOrSetMany and has as well', async () => {
    const cache = app.get<Cache>(AYALA_CACHE)
    await cache.set('m:1', 'one', { tags: ['m'] })
    await cache.set('m:2', 'two', { tags: ['m'] })
    let batches = 0
    const batch = (keys: string[]) => {
      batches++
      return new Map(keys.map((key) => [key, `fresh ${key}`]))
    }
    expect(await runWithCacheMode('bypass', () => cache.getMany(['m:1', 'm:2']))).toEqual([
      undefined,
      undefined,
    ])
    expect(await runWithCacheMode('bypass', () => cache.has('m:1'))).toBe(false)
    expect(await runWithCacheMode('bypass', () => cache.getOrSetMany(['m:1', 'm:2'], batch))).toEqual([
      'fresh m:1',
      'fresh m:2',
    ])
    expect(await cache.getMany(['m:1', 'm:2'])).toEqual(['one', 'two'])
    expect(
      await runWithCacheMode('refresh', () =>
        cache.getOrSetMany(['m:1', 'm:2'], batch, { tags: (key) => [`m`, `item:${key}`] }),
      ),
    ).toEqual(['fresh m:1', 'fresh m:2'])
    expect(await cache.getMany(['m:1', 'm:2'])).toEqual(['fresh m:1', 'fresh m:2'])
    expect(batches).toBe(2)
    // The refreshed entries carry the per-key tags they were stored with.
    await cache.invalidateTags(['item:m:1'])
    expect(await cache.getMany(['m:1', 'm:2'])).toEqual([undefined, 'fresh m:2'])
  })

  it('a refresh racing an invalidation does not leave the value it loaded before the write', async () => {
    const cache = app.get<Cache>(AYALA_CACHE)
    table.rows.set('7', { id: '7', total: 70 })
    await repository.find('7')
    table.rows.set('7', { id: '7', total: 71 })
    const started = deferred()
    const release = deferred()
    // A loader that reads the row, then is held while a write lands and invalidates the tag.
    const refreshing = runWithCacheMode('refresh', () =>
      cache.getOrSet(
        'invoice:7',
        async () => {
          const row = table.rows.get('7')
          started.resolve()
          await release.promise
          return row
        },
        { ttl: '1m', tags: ['invoice:7'] },
      ),
    )
    await started.promise
    await repository.update('7', 72)
    release.resolve()
    // The refresh answers what it loaded, but the entry it stored is stale at once: the tag
    // versions were read before its loader ran.
    expect(await refreshing).toEqual({ id: '7', total: 71 })
    const other = createCache({ redis, namespace, redisTimeout: '5s' })
    try {
      expect(await other.get('invoice:7')).toBeUndefined()
    } finally {
      await other.close()
    }
    const reads = table.reads
    expect(await repository.find('7')).toEqual({ id: '7', total: 72 })
    expect(table.reads - reads).toBe(1)
  })

  it('concurrent refreshes of one key share one loader run (Cache-Control: no-cache from many clients)', async () => {
    table.rows.set('8', { id: '8', total: 80 })
    await repository.find('8')
    table.rows.set('8', { id: '8', total: 81 })
    const cache = app.get<Cache>(AYALA_CACHE)
    const gate = deferred()
    table.gate = gate.promise
    const reads = table.reads
    const coalesced = cache.stats().coalesced
    try {
      const responses = Array.from({ length: 5 }, () =>
        fetch(`${url}/invoices/8`, { headers: { 'cache-control': 'no-cache' } }),
      )
      // Held until the first refresh is loading and the four others have joined it.
      await waitFor(
        () => table.loading === 1 && cache.stats().coalesced - coalesced === 4,
        'one refresh loading, four joined',
      )
      gate.resolve()
      for (const response of await Promise.all(responses)) {
        expect(await response.json()).toEqual({ id: '8', total: 81 })
      }
    } finally {
      table.gate = undefined
      gate.resolve()
    }
    expect(table.reads - reads).toBe(1)
    expect(await repository.find('8')).toEqual({ id: '8', total: 81 })
    expect(table.reads - reads).toBe(1)
  })
})

describe('AyalaCacheModule shutdown', () => {
  const redis = serviceUrls().redis

  async function boot(namespace: string) {
    const moduleRef = await Test.createTestingModule({
      imports: [
        AyalaCacheModule.forRoot({ redis, namespace, redisTimeout: '5s', isGlobal: true }),
        InvoicesModule,
      ],
      controllers: [InvoicesController],
    }).compile()
    const app = moduleRef.createNestApplication({ logger: false })
    await app.listen(0, '127.0.0.1')
    return app
  }

  it('lets an in-flight HTTP request and a direct call finish, stores their values, then closes the cache', async () => {
    const namespace = uniqueName('nest')
    const app = await boot(namespace)
    try {
      const table = app.get(InvoiceTable)
      const cache = app.get<Cache>(AYALA_CACHE)
      table.rows.set('7', { id: '7', total: 7 })
      table.rows.set('8', { id: '8', total: 8 })
      const gate = deferred()
      table.gate = gate.promise
      const request = fetch(`${baseUrl(app)}/invoices/7`)
      const direct = app.get(InvoiceRepository).find('8')
      await waitFor(() => table.loading === 2, 'both loaders running')

      let closed = false
      const closing = app.close().then(() => {
        closed = true
      })
      // Nothing closes while the loaders hold: the cache still answers.
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(closed).toBe(false)
      gate.resolve()

      expect(await (await request).json()).toEqual({ id: '7', total: 7 })
      expect(await direct).toEqual({ id: '8', total: 8 })
      await closing
      await expect(cache.get('invoice:7')).rejects.toBeInstanceOf(CacheError)
      await expect(cache.get('invoice:7')).rejects.toMatchObject({ code: 'E_CACHE_CLOSED' })

      const reader = createCache({ redis, namespace, redisTimeout: '5s' })
      try {
        expect(await reader.getMany(['invoice:7', 'invoice:8'])).toEqual([
          { id: '7', total: 7 },
          { id: '8', total: 8 },
        ])
      } finally {
        await reader.close()
      }
    } finally {
      await deleteNamespaces(redis, [namespace])
    }
  })

  it('does not close a borrowed cache unless asked, and rejects invalid module options by name', async () => {
    const namespace = uniqueName('nest')
    const borrowed = createCache({ redis, namespace, redisTimeout: '5s' })
    try {
      const moduleRef = await Test.createTestingModule({
        imports: [AyalaCacheModule.forRootAsync({ name: 'reports', useFactory: () => borrowed })],
      }).compile()
      const app = moduleRef.createNestApplication({ logger: false })
      await app.init()
      await app.close()
      await borrowed.set('still', 'open')
      expect(await borrowed.get('still')).toBe('open')
    } finally {
      await borrowed.close()
      await deleteNamespaces(redis, [namespace])
    }
    expect(() => AyalaCacheModule.forRoot({ shutdownTimeout: 'soon' as never })).toThrow(
      expect.objectContaining({ code: 'E_NEST_INVALID_DURATION', option: 'shutdownTimeout' }),
    )
    expect(() => AyalaCacheModule.forRoot({ name: '' })).toThrow(expect.objectContaining({ option: 'name' }))
    await expect(
      Test.createTestingModule({ imports: [AyalaCacheModule.forRoot({ namespace: 'a:b' })] }).compile(),
    ).rejects.toMatchObject({ code: 'E_CACHE_INVALID_OPTION', option: 'namespace' })
  })
})
