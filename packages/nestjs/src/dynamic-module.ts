/**
 * The shape every Ayala dynamic module shares, written once.
 *
 * - `forRoot(options)` takes the configuration itself; `forRootAsync({ useFactory, inject,
 *   imports, ...shape })` builds it from other providers. Either way the configuration becomes one
 *   provider (the module's "resolved" token), resolved when Nest instantiates the module, so an
 *   invalid option fails the bootstrap with the module's own error, whatever the source.
 * - The module's shape (`isGlobal`, a cache `name`, the search `indexes`...) is known when the
 *   module is declared: it is never produced by the factory.
 * - Every options object is checked for keys the module does not know, and they are named
 *   (`E_NEST_INVALID_OPTION`): a misspelt option is an error, not a default silently used.
 */
import type {
  FactoryProvider,
  InjectionToken,
  ModuleMetadata,
  OptionalFactoryDependency,
} from '@nestjs/common'
import { InvalidOptionError } from './errors.js'

/** What every `forRootAsync` takes besides the module's shape. */
export interface AsyncConfigOptions<C> extends Pick<ModuleMetadata, 'imports'> {
  useFactory: (...args: any[]) => C | Promise<C>
  inject?: Array<InjectionToken | OptionalFactoryDependency> | undefined
}

/** The keys of {@link AsyncConfigOptions}. */
const ASYNC_KEYS = ['useFactory', 'inject', 'imports'] as const

/**
 * Throw `E_NEST_INVALID_OPTION` naming every key of `options` that is not in `known`; `path` names
 * a nested object (`outbox`, `reconcile[0]`), so its keys are named `outbox.tabel`.
 */
export function rejectUnknownOptions(options: object, known: Iterable<string>, path?: string): void {
  if (options === null || typeof options !== 'object')
    throw new InvalidOptionError(path ?? 'options', 'expected an object')
  const allowed = known instanceof Set ? (known as ReadonlySet<string>) : new Set(known)
  const unknown = Object.keys(options).filter((key) => !allowed.has(key))
  if (unknown.length > 0) {
    const named = path === undefined ? unknown : unknown.map((key) => `${path}.${key}`)
    throw new InvalidOptionError(named.join(', '), 'unknown option(s)')
  }
}

/**
 * Check the options of a `forRootAsync`: `useFactory` is a function, and no key other than the
 * factory's (`useFactory`, `inject`, `imports`) and the module's `shapeKeys` is given.
 */
export function checkAsyncOptions(options: object, shapeKeys: readonly string[]): void {
  if (typeof (options as { useFactory?: unknown } | null | undefined)?.useFactory !== 'function')
    throw new InvalidOptionError('useFactory', 'expected a function')
  rejectUnknownOptions(options, [...ASYNC_KEYS, ...shapeKeys])
}

/** `forRoot`: the configuration given, resolved when the module is instantiated. */
export function resolvedProvider<C, R>(
  token: symbol,
  resolve: (config: C) => R,
  config: C,
): FactoryProvider<R> {
  return { provide: token, useFactory: () => resolve(config) }
}

/**
 * `forRootAsync`: the factory's configuration, resolved when the module is instantiated. The
 * options are checked first ({@link checkAsyncOptions}).
 */
export function resolvedAsyncProvider<C, R>(
  token: symbol,
  resolve: (config: C) => R,
  options: AsyncConfigOptions<C>,
  shapeKeys: readonly string[],
): FactoryProvider<Promise<R>> {
  checkAsyncOptions(options, shapeKeys)
  return {
    provide: token,
    useFactory: async (...args: unknown[]) => resolve(await options.useFactory(...args)),
    inject: options.inject ?? [],
  }
}
