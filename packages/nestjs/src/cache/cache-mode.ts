/**
 * Request-scoped cache modes. `runWithCacheMode('bypass' | 'refresh', fn)` runs `fn` in an
 * `AsyncLocalStorage` context that the module's cache consults on every read:
 *
 * - `'bypass'`: reads skip the cache (the loader runs, nothing is read or stored);
 * - `'refresh'`: reads skip the cache, the loader runs and its value overwrites the entry;
 * - `'default'`: the cache as usual.
 *
 * `getOrSet` / `getOrSetMany` pass the mode to the cache as its per-call `refresh` / `bypass`
 * option, so a refresh is coalesced and protected against the refill race like a miss; `get`,
 * `has` and `getMany` answer a miss.
 *
 * Writes and invalidations (`set`, `delete`, `invalidateTags`, `@CacheInvalidate`) are never
 * skipped. The mode follows the async work `fn` starts, so it reaches every provider,
 * repository and decorated method the request calls, on any transport.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { SetMetadata } from '@nestjs/common'
import { InvalidOptionError } from '../errors.js'

/** How the cache serves reads in the current context. */
export type CacheMode = 'default' | 'bypass' | 'refresh'

const storage = new AsyncLocalStorage<CacheMode>()
const MODES: ReadonlySet<string> = new Set(['default', 'bypass', 'refresh'])

/** Run `fn` with the cache in `mode` for everything it (and the async work it starts) does. */
export function runWithCacheMode<T>(mode: CacheMode, fn: () => T): T {
  if (!MODES.has(mode))
    throw new InvalidOptionError('mode', `expected 'default', 'bypass' or 'refresh', got ${String(mode)}`)
  return storage.run(mode, fn)
}

/** The cache mode of the current context (`'default'` outside any `runWithCacheMode`). */
export function currentCacheMode(): CacheMode {
  return storage.getStore() ?? 'default'
}

/** Metadata key of {@link UseCacheMode}. */
export const CACHE_MODE_METADATA = '@ayala/nestjs:cache-mode'

/**
 * Run a controller handler (HTTP, microservice or GraphQL resolver) in a cache mode, e.g. an
 * admin endpoint that must always read through: `@UseCacheMode('bypass')`. Read by the
 * {@link CacheModeInterceptor} the cache module registers.
 */
export function UseCacheMode(mode: CacheMode): MethodDecorator & ClassDecorator {
  if (!MODES.has(mode))
    throw new InvalidOptionError('mode', `expected 'default', 'bypass' or 'refresh', got ${String(mode)}`)
  return SetMetadata(CACHE_MODE_METADATA, mode)
}
