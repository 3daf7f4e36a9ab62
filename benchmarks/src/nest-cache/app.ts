/**
 * The Nest application of the `nest-cache-manager` scenario, as its own process (one per
 * contender and round, started by `spawn.ts`): `node --import tsx app.ts <contender> <port>
 * <redis URL> <namespace>`. It answers `{ ready: port }` over IPC once listening.
 *
 * The same two routes for every contender, written as `@nestjs/cache-manager`'s documentation
 * writes them, only the module and the interceptor's import differ (`contenders.ts`):
 *
 * - `GET /invoices/:id`: `@UseInterceptors(CacheInterceptor)` + `@CacheTTL`, cached by URL;
 * - `GET /wrapped/:id`: `cacheManager.wrap(key, loader, ttl)` in the handler.
 *
 * The loader builds a ~600-byte invoice after a 2 ms wait (a database read); at steady state every
 * request is a hit, so the figures are the cache's read path through Nest and HTTP.
 *
 * Decorators are applied as functions (no decorator syntax): the benchmarks package compiles
 * with tsx/esbuild, which emits no `design:paramtypes`, so every dependency is named.
 */
import 'reflect-metadata'
import {
  Controller,
  Get,
  type INestApplication,
  Inject,
  Module,
  Param,
  UseInterceptors,
} from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { CONTENDERS, type ContenderName } from './contenders.js'

const [contenderName, portText, redisUrl, namespace] = process.argv.slice(2) as [
  ContenderName,
  string,
  string,
  string,
]
const contender = CONTENDERS[contenderName]
if (contender === undefined) throw new Error(`unknown contender ${contenderName}`)

/** The cached responses' TTL (ms): longer than any run, so every request after the first is a hit. */
const TTL_MS = 10 * 60_000

interface CacheManagerLike {
  wrap<T>(key: string, fn: () => Promise<T>, ttl?: number): Promise<T>
}

async function loadInvoice(id: string) {
  await new Promise((resolve) => setTimeout(resolve, 2))
  return {
    id,
    number: `FAC-2026-${id.padStart(6, '0')}`,
    client: { id: `c-${Number(id) % 50}`, name: 'Electrónica Díaz S.L.', taxId: 'B12345678' },
    issuedAt: '2026-11-30T10:00:00.000Z',
    status: 'issued',
    currency: 'EUR',
    lines: Array.from({ length: 4 }, (_, i) => ({
      sku: `SKU-${i}`,
      description: 'mantenimiento preventivo mensual',
      quantity: i + 1,
      unitCents: 1_250 * (i + 1),
    })),
    totalCents: 12_500,
  }
}

class InvoicesController {
  constructor(private readonly cache: CacheManagerLike) {}

  cached(id: string) {
    return loadInvoice(id)
  }

  wrapped(id: string) {
    return this.cache.wrap(`invoice:${id}`, () => loadInvoice(id), TTL_MS)
  }
}

// @Controller() with @Inject(CACHE_MANAGER), @Get(':id') + @UseInterceptors + @CacheTTL, @Param('id').
Inject(contender.token)(InvoicesController, undefined, 0)
Controller()(InvoicesController)
const proto = InvoicesController.prototype
for (const [method, path] of [
  ['cached', 'invoices/:id'],
  ['wrapped', 'wrapped/:id'],
] as const) {
  const descriptor = Object.getOwnPropertyDescriptor(proto, method) as PropertyDescriptor
  Get(path)(proto, method, descriptor)
  Param('id')(proto, method, 0)
}
const cachedDescriptor = Object.getOwnPropertyDescriptor(proto, 'cached') as PropertyDescriptor
UseInterceptors(contender.interceptor)(proto, 'cached', cachedDescriptor)
contender.cacheTtl(TTL_MS)(proto, 'cached', cachedDescriptor)

class AppModule {}
Module({ imports: [contender.module(redisUrl, namespace, TTL_MS)], controllers: [InvoicesController] })(
  AppModule,
)

const app: INestApplication = await NestFactory.create(AppModule, { logger: ['error'] })
await app.listen(Number(portText), '127.0.0.1')
process.send?.({ ready: Number(portText) })
process.on('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
})
