/**
 * Injection tokens of the cache module. `Symbol.for` makes the token of one name the same
 * across the ESM and CJS builds and across duplicate installs of this package.
 */
import { Inject } from '@nestjs/common'

/** Name of the cache registered without a `name`. */
export const DEFAULT_CACHE_NAME = 'default'

/** The token of the cache registered under `name` (default: the unnamed cache). */
export function getCacheToken(name: string = DEFAULT_CACHE_NAME): symbol {
  return Symbol.for(`@ayala/nestjs:cache:${name}`)
}

/** The token of the unnamed cache: `@Inject(AYALA_CACHE) cache: Cache`. */
export const AYALA_CACHE: symbol = getCacheToken()

/** Token of the resolved module options of the cache registered under `name`. */
export function getCacheModuleOptionsToken(name: string = DEFAULT_CACHE_NAME): symbol {
  return Symbol.for(`@ayala/nestjs:cache-options:${name}`)
}

/** Parameter decorator injecting the cache registered under `name`: `constructor(@InjectCache() cache: Cache)`. */
export function InjectCache(name?: string): PropertyDecorator & ParameterDecorator {
  return Inject(getCacheToken(name))
}
