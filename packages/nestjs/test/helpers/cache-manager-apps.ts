/**
 * The applications the cache-manager call-pattern suite runs against: one Nest application per
 * implementation, each written the way `@nestjs/cache-manager`'s documentation writes it
 * (`@Inject(CACHE_MANAGER) cache: Cache`, `@UseInterceptors(CacheInterceptor)`, `@CacheKey`,
 * `@CacheTTL`, a `trackBy` subclass), differing only in the module imported and where
 * `CacheInterceptor` comes from: the real `@nestjs/cache-manager` with cache-manager 7 on Keyv
 * (in memory, and `@keyv/redis`), and the drop-in (L1 only, and L1 + Redis), with its own
 * interceptor and with `@nestjs/cache-manager`'s.
 */
import 'reflect-metadata'
import { createKeyv } from '@keyv/redis'
import {
  CacheModule,
  CacheInterceptor as NestCacheInterceptor,
  CacheKey as NestCacheKey,
  CacheTTL as NestCacheTTL,
} from '@nestjs/cache-manager'
import {
  Controller,
  type DynamicModule,
  type ExecutionContext,
  Get,
  type INestApplication,
  Inject,
  Injectable,
  Post,
  Query,
  type Type,
  UseInterceptors,
} from '@nestjs/common'
import { Test } from '@nestjs/testing'
import type { Cache } from 'cache-manager'
import { Keyv } from 'keyv'
import {
  CacheInterceptor as AyalaCacheInterceptor,
  AyalaCacheManagerModule,
  CACHE_MANAGER,
  CacheKey,
  CacheTTL,
} from '../../src/cache-manager/index.js'
import { baseUrl } from './http.js'

/** The module default TTL of every application of the suite (ms). */
export const MODULE_TTL = 400

/** One implementation under test. */
export interface Implementation {
  name: string
  /** The cache module, configured with `ttl: MODULE_TTL`. */
  module: (namespace: string) => DynamicModule
  /** The interceptor class the controllers use. */
  interceptor: Type<any>
  /** Runs on the drop-in (the one documented difference: `ttl()` of a "no expiry" entry). */
  dropIn: boolean
}

/** Handler calls per route, to count what the interceptor let through. */
export class Calls {
  readonly counts = new Map<string, number>()
  hit(route: string): number {
    const n = (this.counts.get(route) ?? 0) + 1
    this.counts.set(route, n)
    return n
  }
  of(route: string): number {
    return this.counts.get(route) ?? 0
  }
}

/** The service of the documentation's examples: the manager injected by its token. */
@Injectable()
export class CachedService {
  constructor(@Inject(CACHE_MANAGER) readonly cache: Cache) {}
}

function controllers(interceptor: Type<any>, useNestDecorators: boolean) {
  const Key = useNestDecorators ? NestCacheKey : CacheKey
  const Ttl = useNestDecorators ? NestCacheTTL : CacheTTL

  @Controller('items')
  @UseInterceptors(interceptor)
  class ItemsController {
    constructor(@Inject(Calls) private readonly calls: Calls) {}

    @Get()
    list(@Query('page') page?: string) {
      const n = this.calls.hit('items')
      return { page: page ?? '1', served: n, items: [{ id: 1, tags: ['a'] }] }
    }

    @Post()
    create() {
      return { created: this.calls.hit('post') }
    }

    @Get('custom')
    @Key('custom_key')
    @Ttl(MODULE_TTL / 2)
    custom() {
      return { custom: this.calls.hit('custom') }
    }
  }

  @Controller('short')
  @UseInterceptors(interceptor)
  @Ttl(MODULE_TTL / 2)
  class ShortController {
    constructor(@Inject(Calls) private readonly calls: Calls) {}

    @Get()
    get() {
      return { short: this.calls.hit('short') }
    }
  }

  /** The documentation's `trackBy` override. */
  @Injectable()
  class TrackedInterceptor extends interceptor {
    protected trackBy(context: ExecutionContext): string | undefined {
      const request = context.switchToHttp().getRequest<{ url: string }>()
      return `tracked:${request.url}`
    }
  }

  @Controller('tracked')
  @UseInterceptors(TrackedInterceptor)
  class TrackedController {
    constructor(@Inject(Calls) private readonly calls: Calls) {}

    @Get()
    get() {
      return { tracked: this.calls.hit('tracked') }
    }
  }

  return [ItemsController, ShortController, TrackedController]
}

/** The implementations, for a Redis at `redisUrl`. */
export function implementations(redisUrl: string): Implementation[] {
  return [
    {
      name: '@nestjs/cache-manager + Keyv (memory)',
      module: () => CacheModule.register({ ttl: MODULE_TTL }),
      interceptor: NestCacheInterceptor,
      dropIn: false,
    },
    {
      name: '@nestjs/cache-manager + @keyv/redis',
      module: (namespace) =>
        CacheModule.register({ ttl: MODULE_TTL, stores: [createKeyv(redisUrl, { namespace })] }),
      interceptor: NestCacheInterceptor,
      dropIn: false,
    },
    {
      name: 'drop-in, L1 only',
      module: (namespace) => AyalaCacheManagerModule.register({ ttl: MODULE_TTL, namespace }),
      interceptor: AyalaCacheInterceptor,
      dropIn: true,
    },
    {
      name: 'drop-in, L1 + Redis',
      module: (namespace) =>
        AyalaCacheManagerModule.register({ ttl: MODULE_TTL, namespace, redis: redisUrl, redisTimeout: '2s' }),
      interceptor: AyalaCacheInterceptor,
      dropIn: true,
    },
    {
      name: "drop-in, L1 + Redis, @nestjs/cache-manager's interceptor and decorators",
      module: (namespace) =>
        AyalaCacheManagerModule.register({ ttl: MODULE_TTL, namespace, redis: redisUrl, redisTimeout: '2s' }),
      interceptor: NestCacheInterceptor,
      dropIn: true,
    },
  ]
}

/**
 * cache-manager's two tiers as its README builds them (Keyv in memory over `@keyv/redis`): the
 * peer of the drop-in's L1 + Redis for coherence between instances.
 */
export function tieredPeer(redisUrl: string): Implementation {
  return {
    name: '@nestjs/cache-manager + Keyv (memory) over @keyv/redis',
    module: (namespace) =>
      CacheModule.register({ ttl: MODULE_TTL, stores: [new Keyv(), createKeyv(redisUrl, { namespace })] }),
    interceptor: NestCacheInterceptor,
    dropIn: false,
  }
}

/** A started application of one implementation. */
export interface CacheApp {
  app: INestApplication
  url: string
  cache: Cache
  calls: Calls
}

/** Start the application of `implementation` on a free port. */
export async function startApp(implementation: Implementation, namespace: string): Promise<CacheApp> {
  const calls = new Calls()
  const useNestDecorators = implementation.interceptor === NestCacheInterceptor
  const moduleRef = await Test.createTestingModule({
    imports: [implementation.module(namespace)],
    controllers: controllers(implementation.interceptor, useNestDecorators),
    providers: [CachedService, { provide: Calls, useValue: calls }],
  }).compile()
  const app = moduleRef.createNestApplication({ logger: false })
  await app.listen(0, '127.0.0.1')
  return { app, url: baseUrl(app), cache: app.get(CachedService).cache, calls }
}
