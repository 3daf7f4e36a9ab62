/**
 * The cache the module hands out: a `Proxy` over the `Cache` that (1) applies the request's
 * cache mode (see `runWithCacheMode`) to reads, and (2) counts the operations in flight, so that
 * shutdown can let them finish before `close()`.
 *
 * The proxy keeps the `Cache` type and calls every method on the real instance (so private
 * state works); the wrapped methods are created once per cache, not per call. In the default
 * mode a read costs one `AsyncLocalStorage.getStore()` and a counter increment on top of the
 * cache's own hot path.
 */
import type { BatchLoader, Cache, Loader, LoaderContext, SetManyOptions, SetOptions } from '@ayala/cache'
import { currentRequestCacheStats } from '../metrics/request-cache-stats.js'
import { currentCacheMode } from './cache-mode.js'

/** Tracks the operations of one cache that have not settled yet. */
export class InFlight {
  private count = 0
  private waiters: Array<() => void> = []

  /** Operations started and not settled. */
  get size(): number {
    return this.count
  }

  /** Count `result` until it settles (when it is a promise). */
  track<T>(result: T): T {
    if (!(result instanceof Promise)) return result
    this.count++
    const settle = () => {
      if (--this.count === 0) {
        const waiters = this.waiters
        this.waiters = []
        for (const resolve of waiters) resolve()
      }
    }
    result.then(settle, settle)
    return result
  }

  /** Resolves with `true` once nothing is in flight, or with `false` after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      this.waiters.push(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }
}

function loaderContext(key: string): LoaderContext {
  return { key, signal: new AbortController().signal, stale: undefined }
}

function countBypass(): void {
  const stats = currentRequestCacheStats()
  if (stats !== undefined) stats.bypassed++
}

async function loadAndMaybeStore<T>(
  cache: Cache,
  key: string,
  loader: Loader<T>,
  options: SetOptions | undefined,
  store: boolean,
): Promise<T> {
  const value = await loader(loaderContext(key))
  if (store) await cache.set(key, value, options)
  return value
}

async function loadManyAndMaybeStore<T>(
  cache: Cache,
  keys: readonly string[],
  batchLoader: BatchLoader<T>,
  options: SetManyOptions | undefined,
  store: boolean,
): Promise<T[]> {
  const loaded = await batchLoader([...keys], { signal: new AbortController().signal })
  const values = keys.map((key, i) =>
    loaded instanceof Map ? (loaded.get(key) as T) : ((loaded as readonly T[])[i] as T),
  )
  if (store) {
    const { tags, ...rest } = options ?? {}
    await Promise.all(
      keys.map((key, i) =>
        cache.set(key, values[i], { ...rest, tags: typeof tags === 'function' ? tags(key) : tags }),
      ),
    )
  }
  return values
}

/** The methods whose behaviour depends on the cache mode. */
function modeAware(cache: Cache): Partial<Record<keyof Cache, (...args: any[]) => unknown>> {
  return {
    getOrSet<T>(key: string, loader: Loader<T>, options?: SetOptions): Promise<T> {
      const mode = currentCacheMode()
      if (mode === 'default') return cache.getOrSet(key, loader, options)
      countBypass()
      return loadAndMaybeStore(cache, key, loader, options, mode === 'refresh')
    },
    get<T>(key: string): Promise<T | undefined> {
      if (currentCacheMode() === 'default') return cache.get<T>(key)
      countBypass()
      return Promise.resolve(undefined)
    },
    has(key: string): Promise<boolean> {
      if (currentCacheMode() === 'default') return cache.has(key)
      countBypass()
      return Promise.resolve(false)
    },
    getMany<T>(keys: readonly string[]): Promise<Array<T | undefined>> {
      if (currentCacheMode() === 'default') return cache.getMany<T>(keys)
      countBypass()
      return Promise.resolve(keys.map(() => undefined))
    },
    getOrSetMany<T>(
      keys: readonly string[],
      batchLoader: BatchLoader<T>,
      options?: SetManyOptions,
    ): Promise<T[]> {
      const mode = currentCacheMode()
      if (mode === 'default') return cache.getOrSetMany(keys, batchLoader, options)
      countBypass()
      return loadManyAndMaybeStore(cache, keys, batchLoader, options, mode === 'refresh')
    },
  }
}

/** Wrap `cache` for the module: cache modes on reads, in-flight tracking on every async method. */
export function manageCache(cache: Cache, inFlight: InFlight): Cache {
  const overrides = modeAware(cache)
  const wrapped = new Map<PropertyKey, unknown>()
  return new Proxy(cache, {
    get(target, property) {
      const known = wrapped.get(property)
      if (known !== undefined) return known
      const value = Reflect.get(target, property, target)
      if (typeof value !== 'function' || property === 'constructor') return value
      const override = overrides[property as keyof Cache]
      const fn = override ?? (value as (...args: unknown[]) => unknown)
      const method = (...args: unknown[]) => inFlight.track(fn.apply(target, args))
      wrapped.set(property, method)
      return method
    },
  })
}
