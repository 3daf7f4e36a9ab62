/**
 * Loads `@ayala/cache` from its built `dist/` the way a user would, and tells whether its cache
 * API exists yet. The benchmark is written against the public API fixed by the issue
 * (`createCache`, `getOrSet`, `get`, `set`, `getMany`, `delete`, `clear`, `close`); while the
 * package does not export `createCache`, scenarios run the peers and baselines only and say so.
 */

/** Per-call options of the cache API the benchmark uses. */
export interface AyalaCallOptions {
  ttl?: number | string | undefined
  tags?: readonly string[] | undefined
}

/** The subset of the `@ayala/cache` instance API the benchmark calls. */
export interface AyalaCache {
  getOrSet<T>(key: string, loader: () => T | Promise<T>, options?: AyalaCallOptions): Promise<T>
  get(key: string): Promise<unknown>
  set(key: string, value: unknown, options?: AyalaCallOptions): Promise<unknown>
  getMany(keys: readonly string[]): Promise<unknown>
  delete(key: string): Promise<unknown>
  clear(): Promise<unknown>
  close(): Promise<unknown>
}

/** `createCache` as the benchmark calls it. */
export type CreateAyalaCache = (options: Record<string, unknown>) => AyalaCache

/** The loaded module, or why it could not be used. */
export type AyalaModule =
  | { ready: true; createCache: CreateAyalaCache; module: Record<string, unknown> }
  | { ready: false; reason: string }

let loaded: Promise<AyalaModule> | undefined

/** Import `@ayala/cache` once per process; `ready: false` until its dist exports `createCache`. */
export function loadAyala(): Promise<AyalaModule> {
  loaded ??= (async (): Promise<AyalaModule> => {
    let module: Record<string, unknown>
    try {
      module = (await import('@ayala/cache')) as Record<string, unknown>
    } catch (error) {
      return {
        ready: false,
        reason: `@ayala/cache could not be imported (${(error as Error).message}); run pnpm --filter @ayala/cache build`,
      }
    }
    const createCache = module.createCache
    if (typeof createCache !== 'function') {
      return {
        ready: false,
        reason:
          "@ayala/cache's built dist does not export createCache yet (pnpm --filter @ayala/cache build once it lands)",
      }
    }
    return { ready: true, createCache: createCache as CreateAyalaCache, module }
  })()
  return loaded
}
