/**
 * Method decorators for repositories and services: `@Cacheable`, `@CacheInvalidate`, `@CachePut`.
 *
 * Each works both as a legacy decorator (`experimentalDecorators`, what NestJS uses: called with
 * `(prototype, name, descriptor)`) and as a TC39 standard decorator (called with
 * `(method, context)`); the call shape tells which. Options are validated and precompiled when the
 * decorator is applied (a static key becomes a constant function, durations are parsed into
 * milliseconds once and kept resolved), so a decorated call only builds its key (and tags) and
 * calls the cache, which parses nothing again.
 *
 * The cache is found per instance, so a DI container can inject it: the decorator's `cache`
 * option (a function of the instance, or the name of a property holding the cache), else a cache
 * bound with `bindCache(instance, cache)` (or a `[CACHE]` property on the class), else the
 * process-wide default from `setDefaultCache`.
 */
import type { Cache } from '../cache.js'
import { type PreparedSetOptions, prepareSetOptions, withTags } from '../call-options.js'
import type { Duration } from '../duration.js'
import { CacheNotBoundError, InvalidOptionError } from '../errors.js'
import { rejectUnknownOptions } from '../options.js'

/** The property under which `bindCache` stores an instance's cache. */
export const CACHE: unique symbol = Symbol.for('@ayala/cache')

/** Where a decorated method finds its cache: a function of the instance, or a property name. */
export type CacheLocator = ((instance: any) => Cache) | string | symbol

/** A key or tag list, fixed or built from the method's arguments. */
export type FromArgs<A extends unknown[], R> = R | ((...args: A) => R)

/** Options of {@link Cacheable}. */
export interface CacheableOptions<A extends unknown[]> {
  /** The cache key, e.g. `(id: number) => \`invoice:${id}\``. */
  key: FromArgs<A, string>
  /** Tags of the entry, e.g. `(id: number) => [\`invoice:${id}\`]`. */
  tags?: FromArgs<A, readonly string[]> | undefined
  /** Freshness (L2 TTL). @default the cache's `ttl` */
  ttl?: Duration | undefined
  /** L1 TTL. @default the cache's `l1Ttl` */
  l1Ttl?: Duration | undefined
  /** Grace. @default the cache's `grace` */
  grace?: Duration | false | undefined
  /** Soft loader timeout. @default the cache's `softTimeout` */
  softTimeout?: Duration | false | undefined
  /** Hard loader timeout. @default the cache's `hardTimeout` */
  hardTimeout?: Duration | false | undefined
  /** Cross-process lease. @default the cache's `lease` */
  lease?: boolean | undefined
  /** Where to find the cache. @default `bindCache`'s, else `setDefaultCache`'s */
  cache?: CacheLocator | undefined
}

/** Options of {@link CacheInvalidate}. */
export interface CacheInvalidateOptions<A extends unknown[]> {
  /** Tags to invalidate once the method's promise resolved. */
  tags?: FromArgs<A, readonly string[]> | undefined
  /** Keys to delete once the method's promise resolved. */
  keys?: FromArgs<A, readonly string[]> | undefined
  /** `'delete'` (default) drops the entries; `'expire'` keeps them as a grace fallback. */
  mode?: 'delete' | 'expire' | undefined
  /** Where to find the cache. */
  cache?: CacheLocator | undefined
}

/** Options of {@link CachePut}: the method's result is stored under `key`. */
export type CachePutOptions<A extends unknown[]> = Omit<
  CacheableOptions<A>,
  'softTimeout' | 'hardTimeout' | 'lease'
>

/**
 * A method decorator usable as a legacy (`experimentalDecorators`) or a TC39 decorator, that
 * only accepts async methods whose leading parameters match `A` (the key and tag functions may
 * use fewer parameters than the method has).
 */
export interface AsyncMethodDecorator<A extends unknown[]> {
  <M extends (...args: [...A, ...any[]]) => Promise<unknown>>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): TypedPropertyDescriptor<M> | undefined
  <M extends (...args: [...A, ...any[]]) => Promise<unknown>>(
    method: M,
    context: ClassMethodDecoratorContext<unknown, M>,
  ): M
}

let defaultCache: Cache | undefined

/** Set (or unset) the cache used by decorated methods that find no other. */
export function setDefaultCache(cache: Cache | undefined): void {
  defaultCache = cache
}

/** Bind `cache` to `instance` for its decorated methods; returns `instance`. */
export function bindCache<T extends object>(instance: T, cache: Cache): T {
  Object.defineProperty(instance, CACHE, {
    value: cache,
    configurable: true,
    enumerable: false,
    writable: true,
  })
  return instance
}

const CACHEABLE_KEYS: ReadonlySet<string> = new Set([
  'key',
  'tags',
  'ttl',
  'l1Ttl',
  'grace',
  'softTimeout',
  'hardTimeout',
  'lease',
  'cache',
])
const CACHE_PUT_KEYS: ReadonlySet<string> = new Set(['key', 'tags', 'ttl', 'l1Ttl', 'grace', 'cache'])
const CACHE_INVALIDATE_KEYS: ReadonlySet<string> = new Set(['tags', 'keys', 'mode', 'cache'])

/** A decorator's options object: an object without unknown keys (named in the error). */
function checkOptions(options: unknown, known: ReadonlySet<string>): void {
  if (options === null || typeof options !== 'object')
    throw new InvalidOptionError('options', 'expected an object')
  rejectUnknownOptions(options, known)
}

type Compiled<A extends unknown[], R> = ((...args: A) => R) | undefined

function compile<A extends unknown[], R>(value: FromArgs<A, R> | undefined, name: string): Compiled<A, R> {
  if (value === undefined) return undefined
  if (typeof value === 'function') return value as (...args: A) => R
  const constant = value
  if (name === 'key' && typeof constant !== 'string')
    throw new InvalidOptionError(name, 'expected a string or a function')
  if (name !== 'key' && !Array.isArray(constant))
    throw new InvalidOptionError(name, 'expected an array or a function')
  return () => constant
}

function locator(option: CacheLocator | undefined, method: string): (instance: any) => Cache {
  if (
    option !== undefined &&
    typeof option !== 'function' &&
    typeof option !== 'string' &&
    typeof option !== 'symbol'
  ) {
    throw new InvalidOptionError('cache', 'expected a function, a property name or a symbol')
  }
  return (instance) => {
    const found =
      typeof option === 'function'
        ? option(instance)
        : option !== undefined
          ? instance?.[option]
          : instance?.[CACHE]
    const cache = (found as Cache | undefined) ?? defaultCache
    if (cache === undefined) throw new CacheNotBoundError(method)
    return cache
  }
}

/**
 * The decorator's cache options (`ttl`, `l1Ttl`, `grace`, `softTimeout`, `hardTimeout`, `lease`),
 * validated and parsed once, when the decorator is applied (call-options.ts): a decorated call
 * passes them as they are, and the cache parses nothing again.
 */
function staticSetOptions(options: CacheableOptions<any>): PreparedSetOptions {
  return prepareSetOptions({
    ttl: options.ttl,
    l1Ttl: options.l1Ttl,
    grace: options.grace,
    softTimeout: options.softTimeout,
    hardTimeout: options.hardTimeout,
    lease: options.lease,
  })
}

/** Turns `wrap(original, name)` into a decorator of both kinds. */
function decorator<A extends unknown[]>(
  wrap: (
    original: (...args: any[]) => Promise<unknown>,
    name: string,
  ) => (this: any, ...args: any[]) => Promise<unknown>,
): AsyncMethodDecorator<A> {
  return ((target: any, context: any, descriptor?: PropertyDescriptor) => {
    if (descriptor !== undefined) {
      // Legacy: (prototype, name, descriptor)
      descriptor.value = wrap(descriptor.value, `${target?.constructor?.name ?? 'object'}.${String(context)}`)
      return descriptor
    }
    // TC39: (method, context)
    return wrap(target, `${String((context as ClassMethodDecoratorContext).name)}`)
  }) as AsyncMethodDecorator<A>
}

/**
 * Cache the method's result: `getOrSet(key(...args), () => method(...args), options)`.
 *
 * ```ts
 * @Cacheable({ key: (id: number) => `invoice:${id}`, tags: (id: number) => [`invoice:${id}`], ttl: '10m' })
 * async findInvoice(id: number): Promise<Invoice> { ... }
 * ```
 *
 * @throws InvalidOptionError for an unknown option (every one named) or an invalid one, when applied
 */
export function Cacheable<A extends unknown[] = unknown[]>(
  options: CacheableOptions<A>,
): AsyncMethodDecorator<A> {
  checkOptions(options, CACHEABLE_KEYS)
  const key = compile(options.key, 'key') as (...args: A) => string
  if (key === undefined) throw new InvalidOptionError('key', 'is required')
  const tags = compile(options.tags, 'tags')
  const base = staticSetOptions(options)
  const staticOptions = tags === undefined ? base : undefined
  return decorator<A>((original, name) => {
    const find = locator(options.cache, name)
    // Not `async`: on a hit this adds no promise of its own to the cache's. Errors thrown while
    // building the key or finding the cache still surface as a rejected promise.
    return function cacheable(this: any, ...args: any[]) {
      try {
        return find(this).getOrSet(
          key(...(args as A)),
          () => original.apply(this, args),
          staticOptions ?? withTags(base, (tags as (...a: A) => readonly string[])(...(args as A))),
        )
      } catch (error) {
        return Promise.reject(error)
      }
    }
  })
}

/**
 * Run the method, then (after its promise resolved, i.e. after the write committed) invalidate
 * `tags` and delete `keys`. A method that throws invalidates nothing.
 *
 * @throws InvalidOptionError for an unknown option (every one named) or an invalid one, when applied
 */
export function CacheInvalidate<A extends unknown[] = unknown[]>(
  options: CacheInvalidateOptions<A>,
): AsyncMethodDecorator<A> {
  checkOptions(options, CACHE_INVALIDATE_KEYS)
  const tags = compile(options.tags, 'tags')
  const keys = compile(options.keys, 'keys')
  if (tags === undefined && keys === undefined)
    throw new InvalidOptionError('tags', 'give tags, keys or both')
  const mode = options.mode ?? 'delete'
  if (mode !== 'delete' && mode !== 'expire')
    throw new InvalidOptionError('mode', `expected 'delete' or 'expire'`)
  const invalidateOptions = { mode }
  return decorator<A>((original, name) => {
    const find = locator(options.cache, name)
    return async function cacheInvalidate(this: any, ...args: any[]) {
      const result = await original.apply(this, args)
      const cache = find(this)
      await Promise.all([
        tags === undefined ? undefined : cache.invalidateTags(tags(...(args as A)), invalidateOptions),
        keys === undefined
          ? undefined
          : mode === 'delete'
            ? cache.delete(keys(...(args as A)))
            : cache.expire(keys(...(args as A))),
      ])
      return result
    }
  })
}

/**
 * Run the method and store its result under `key` (with `tags`), whatever the cache held.
 *
 * @throws InvalidOptionError for an unknown option (every one named) or an invalid one, when applied
 */
export function CachePut<A extends unknown[] = unknown[]>(
  options: CachePutOptions<A>,
): AsyncMethodDecorator<A> {
  checkOptions(options, CACHE_PUT_KEYS)
  const key = compile(options.key, 'key') as (...args: A) => string
  if (key === undefined) throw new InvalidOptionError('key', 'is required')
  const tags = compile(options.tags, 'tags')
  const base = staticSetOptions(options)
  return decorator<A>((original, name) => {
    const find = locator(options.cache, name)
    return async function cachePut(this: any, ...args: any[]) {
      const result = await original.apply(this, args)
      await find(this).set(
        key(...(args as A)),
        result,
        tags === undefined ? base : withTags(base, tags(...(args as A))),
      )
      return result
    }
  })
}
