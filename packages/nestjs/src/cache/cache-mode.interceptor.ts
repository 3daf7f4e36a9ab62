/**
 * Sets the request's cache mode: from `@UseCacheMode()` on the handler or its class, else (when
 * the module option `honorCacheControl` is on) from the request's `Cache-Control` header:
 * `no-cache` refreshes (load and overwrite), `no-store` bypasses (load, store nothing). Off by
 * default: letting any client force loads is a way to hammer the database.
 *
 * The header is read from HTTP requests and from GraphQL operations sent over HTTP: Nest's
 * GraphQL drivers (Apollo, Mercurius) put the HTTP request in the GraphQL context as `req`
 * (the resolver's third argument). Every resolver of the operation then runs in that mode.
 */
import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common'
import { Reflector } from '@nestjs/core'
import type { Observable } from 'rxjs'
import { CACHE_MODE_METADATA, type CacheMode, runWithCacheMode } from './cache-mode.js'

/** Token of the boolean "honor the Cache-Control request header". */
export const HONOR_CACHE_CONTROL: unique symbol = Symbol('@ayala/nestjs:honor-cache-control')

function modeFromHeader(value: unknown): CacheMode | undefined {
  const header = Array.isArray(value) ? value.join(',') : value
  if (typeof header !== 'string') return undefined
  const directives = header
    .toLowerCase()
    .split(',')
    .map((d) => d.trim())
  if (directives.includes('no-store')) return 'bypass'
  if (directives.includes('no-cache')) return 'refresh'
  return undefined
}

interface RequestLike {
  headers?: Record<string, unknown> | undefined
}

/** The HTTP request behind a handler call: the request itself, or a GraphQL context's `req`. */
function requestOf(context: ExecutionContext): RequestLike | undefined {
  const type = context.getType<string>()
  if (type === 'http') return context.switchToHttp().getRequest<RequestLike>()
  if (type === 'graphql') {
    return context.getArgByIndex<{ req?: RequestLike | undefined } | undefined>(2)?.req
  }
  return undefined
}

/** Runs each handler in the cache mode its metadata or request asks for. */
@Injectable()
export class CacheModeInterceptor implements NestInterceptor {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(HONOR_CACHE_CONTROL) private readonly honorCacheControl: boolean,
  ) {}

  /** Wrap one handler call. */
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    let mode = this.reflector.getAllAndOverride<CacheMode | undefined>(CACHE_MODE_METADATA, [
      context.getHandler(),
      context.getClass(),
    ])
    if (mode === undefined && this.honorCacheControl) {
      mode = modeFromHeader(requestOf(context)?.headers?.['cache-control'])
    }
    return mode === undefined ? next.handle() : runWithCacheMode(mode, () => next.handle())
  }
}
