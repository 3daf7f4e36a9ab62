/**
 * Binding the module's cache to the providers whose methods carry `@Cacheable`,
 * `@CacheInvalidate` or `@CachePut` (from `@ayala/cache`).
 *
 * Those decorators find their cache per instance (`bindCache(instance, cache)`, a non-enumerable
 * symbol property), so no process-wide default is needed and two Nest applications in one
 * process keep their own caches. When the module initialises, every singleton provider and
 * controller created from a class in the application's modules is bound to the unnamed cache,
 * unless its class asks for a named one with `@UseNamedCache(name)` (then that cache's module
 * binds it). An instance that already has a cache (bound by hand) is left alone.
 *
 * Timing: Nest creates every provider before any `onModuleInit` runs, and runs the hooks of
 * global modules first; with `isGlobal: true` the binding is done before any other module's
 * `onModuleInit`. Request- and transient-scoped providers are created per request, after the
 * binding: give their decorators a `cache` locator instead.
 */
import { bindCache, CACHE, type Cache } from '@ayala/cache'
import { SetMetadata } from '@nestjs/common'
import { type DiscoveryService, Reflector } from '@nestjs/core'
import { DEFAULT_CACHE_NAME } from './tokens.js'

/** Metadata key of {@link UseNamedCache}. */
export const NAMED_CACHE_METADATA = '@ayala/nestjs:named-cache'

/**
 * Bind the decorated methods of this class's instances to the cache registered under `name`
 * (instead of the unnamed one): `@UseNamedCache('reports') @Injectable() class ReportRepository`.
 */
export function UseNamedCache(name: string): ClassDecorator {
  return SetMetadata(NAMED_CACHE_METADATA, name)
}

/** Nest's own module, whose providers (Reflector, ModuleRef, ...) are not the application's. */
const INTERNAL_MODULE = 'InternalCoreModule'
const reflector = new Reflector()

/**
 * Bind `cache` to the application's singleton class instances meant for `name`; returns how many
 * instances were bound.
 */
export function bindProviders(discovery: DiscoveryService, name: string, cache: Cache): number {
  let bound = 0
  for (const wrapper of [...discovery.getProviders(), ...discovery.getControllers()]) {
    const instance: unknown = wrapper.instance
    const metatype = wrapper.metatype
    if (
      typeof instance !== 'object' ||
      instance === null ||
      typeof metatype !== 'function' ||
      // Factory providers' metatype is the factory (an arrow function has no prototype).
      typeof metatype.prototype !== 'object' ||
      !(instance instanceof metatype) ||
      !wrapper.isDependencyTreeStatic() ||
      wrapper.host?.metatype?.name === INTERNAL_MODULE ||
      !Object.isExtensible(instance)
    ) {
      continue
    }
    const wanted = reflector.get<string | undefined>(NAMED_CACHE_METADATA, metatype) ?? DEFAULT_CACHE_NAME
    if (wanted !== name) continue
    const current = (instance as { [CACHE]?: unknown })[CACHE]
    if (current !== undefined && current !== cache) continue
    bindCache(instance, cache)
    bound++
  }
  return bound
}
