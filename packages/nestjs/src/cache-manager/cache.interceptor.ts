/**
 * `CacheInterceptor`: the response cache of `@nestjs/cache-manager`'s interceptor, on whatever
 * provides `CACHE_MANAGER` (the drop-in, or cache-manager itself), with the same rules, so
 * `@UseInterceptors(CacheInterceptor)`, `{ provide: APP_INTERCEPTOR, useClass: CacheInterceptor }`
 * and subclasses overriding `trackBy` keep working when the import changes:
 *
 * - the key is `@CacheKey` (a string or a function of the context), else, in an HTTP
 *   application, the request URL of a GET (`allowedMethods`); no key: not cached;
 * - the TTL is `@CacheTTL` of the handler, else of the controller (ms, or a function of the
 *   context), else the manager's default;
 * - a hit answers the cached value (`X-Cache: HIT`); a miss runs the handler and stores what it
 *   returns (not a `StreamableFile`), without holding the response (`X-Cache: MISS`); a manager
 *   that fails is logged and the handler answers, as if nothing were cached.
 */
import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  Logger,
  type NestInterceptor,
  Optional,
  StreamableFile,
} from '@nestjs/common'
import { HttpAdapterHost, Reflector } from '@nestjs/core'
import { type Observable, of } from 'rxjs'
import { tap } from 'rxjs/operators'
import { CACHE_KEY_METADATA, CACHE_MANAGER, CACHE_TTL_METADATA } from './tokens.js'

/** What the interceptor needs of the manager under `CACHE_MANAGER`. */
export interface CacheInterceptorStore {
  get(key: string): Promise<unknown>
  set(key: string, value: unknown, ttl?: number): Promise<unknown>
}

const isNil = (value: unknown): value is null | undefined => value === null || value === undefined

/** The response-cache interceptor (see the module note). */
@Injectable()
export class CacheInterceptor implements NestInterceptor {
  /** The HTTP adapter, when the application has one (absent in a microservice). */
  @Optional()
  @Inject(HttpAdapterHost)
  protected readonly httpAdapterHost: HttpAdapterHost | undefined

  /** Methods whose responses are cached by URL. */
  protected allowedMethods = ['GET']

  constructor(
    @Inject(CACHE_MANAGER) protected readonly cacheManager: CacheInterceptorStore,
    @Inject(Reflector) protected readonly reflector: Reflector,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const key = await this.trackBy(context)
    const ttlValueOrFactory =
      this.reflector.get(CACHE_TTL_METADATA, context.getHandler()) ??
      this.reflector.get(CACHE_TTL_METADATA, context.getClass()) ??
      null
    if (!key) return next.handle()
    try {
      const value = await this.cacheManager.get(key)
      this.setHeadersWhenHttp(context, value)
      if (!isNil(value)) return of(value)
      const ttl: number | null =
        typeof ttlValueOrFactory === 'function' ? await ttlValueOrFactory(context) : ttlValueOrFactory
      return next.handle().pipe(
        tap((response: unknown) => {
          if (response instanceof StreamableFile) return
          const stored = isNil(ttl)
            ? this.cacheManager.set(key, response)
            : this.cacheManager.set(key, response, ttl)
          stored.catch((error: unknown) => {
            Logger.error(
              `An error has occurred when inserting "key: ${key}"`,
              error instanceof Error ? error.stack : String(error),
              'CacheInterceptor',
            )
          })
        }),
      )
    } catch {
      // The manager failed to answer: serve the handler, as @nestjs/cache-manager's interceptor does.
      return next.handle()
    }
  }

  /** The cache key of this request, or `undefined` (not cached). Override to key otherwise. */
  protected trackBy(context: ExecutionContext): string | undefined | Promise<string | undefined> {
    const httpAdapter = this.httpAdapterHost?.httpAdapter
    const isHttpApp = httpAdapter !== undefined && httpAdapter !== null && !!httpAdapter.getRequestMethod
    const metadata = this.reflector.get(CACHE_KEY_METADATA, context.getHandler()) ?? undefined
    if (!isHttpApp || metadata) return typeof metadata === 'function' ? metadata(context) : metadata
    if (!this.isRequestCacheable(context)) return undefined
    return httpAdapter.getRequestUrl(context.getArgByIndex(0))
  }

  /** Whether this request's method is cached by URL. */
  protected isRequestCacheable(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ method: string }>()
    return this.allowedMethods.includes(request.method)
  }

  /** `X-Cache: HIT | MISS` on HTTP responses. */
  protected setHeadersWhenHttp(context: ExecutionContext, value: unknown): void {
    const httpAdapter = this.httpAdapterHost?.httpAdapter
    if (!httpAdapter) return
    httpAdapter.setHeader(context.switchToHttp().getResponse(), 'X-Cache', isNil(value) ? 'MISS' : 'HIT')
  }
}
