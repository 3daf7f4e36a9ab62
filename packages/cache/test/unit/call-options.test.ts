/**
 * Per-call options: call > instance > default, and options prepared once (what the decorators
 * keep) are not parsed again on each call.
 */
import { describe, expect, it } from 'vitest'
import { callDefaults, prepareSetOptions, resolveCallOptions, withTags } from '../../src/call-options.js'
import { bindCache, type Cache, Cacheable, CachePut, createCache } from '../../src/index.js'
import { resolveCacheOptions } from '../../src/options.js'

describe('per-call options', () => {
  const instance = callDefaults(resolveCacheOptions({ ttl: '2m', grace: '1m', lease: true }))

  it('a call without options is the instance object itself; a call overrides only what it names', () => {
    expect(resolveCallOptions(instance, undefined)).toBe(instance)
    expect(resolveCallOptions(instance, { ttl: '10m', tags: ['a'] })).toEqual({
      ttl: 600_000,
      l1Ttl: 60_000,
      grace: 60_000,
      softTimeout: 0,
      hardTimeout: 0,
      lease: true,
      tagSuffixes: ['g', 't:a'],
    })
  })

  it('prepared options parse once and resolve to one frozen object per instance', () => {
    const prepared = prepareSetOptions({ ttl: '10m', grace: false })
    expect(prepared).toMatchObject({ ttl: 600_000, grace: 0 })
    expect(Object.isFrozen(prepared)).toBe(true)
    const first = resolveCallOptions(instance, prepared)
    expect(first).toEqual(resolveCallOptions(instance, { ttl: '10m', grace: false }))
    expect(resolveCallOptions(instance, prepared)).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
    // Another cache's defaults: call > that instance > default.
    const other = callDefaults(resolveCacheOptions({ l1Ttl: '5s', lease: false }))
    expect(resolveCallOptions(other, prepared)).toMatchObject({
      ttl: 600_000,
      grace: 0,
      l1Ttl: 5_000,
      lease: false,
    })
    expect(resolveCallOptions(instance, withTags(prepared, ['x']))).toMatchObject({
      ttl: 600_000,
      tagSuffixes: ['g', 't:x'],
    })
  })

  it('a prepared option is validated when prepared, naming it', () => {
    expect(() => prepareSetOptions({ l1Ttl: '10 minutes' as never })).toThrow(
      expect.objectContaining({ code: 'E_CACHE_INVALID_DURATION', option: 'l1Ttl' }),
    )
    expect(() => prepareSetOptions({ tags: 'a' as never })).toThrow(
      expect.objectContaining({ option: 'tags' }),
    )
  })

  it('a decorated method hands the cache milliseconds, the same options object on every call', async () => {
    const seen: unknown[] = []
    const cache = createCache()
    const spy = new Proxy(cache, {
      get(target, name) {
        if (name === 'getOrSet' || name === 'set')
          return (...args: unknown[]) => {
            seen.push(args.at(-1))
            return (target[name] as (...a: unknown[]) => unknown).apply(target, args)
          }
        return Reflect.get(target, name)
      },
    }) as Cache
    class Repo {
      async find(_id: number): Promise<number> {
        return 1
      }
      async save(_id: number): Promise<number> {
        return 2
      }
    }
    const find = Object.getOwnPropertyDescriptor(Repo.prototype, 'find') as PropertyDescriptor
    Cacheable({ key: (id: number) => `r:${id}`, ttl: '10m', l1Ttl: '30s' })(Repo.prototype, 'find', find)
    Object.defineProperty(Repo.prototype, 'find', find)
    const save = Object.getOwnPropertyDescriptor(Repo.prototype, 'save') as PropertyDescriptor
    CachePut({ key: (id: number) => `r:${id}`, ttl: '1h', tags: (id: number) => [`r:${id}`] })(
      Repo.prototype,
      'save',
      save,
    )
    Object.defineProperty(Repo.prototype, 'save', save)
    const repo = bindCache(new Repo(), spy)
    await repo.find(1)
    await repo.find(2)
    await repo.save(3)
    expect(seen[0]).toMatchObject({ ttl: 600_000, l1Ttl: 30_000 })
    expect(seen[1]).toBe(seen[0])
    expect(seen[2]).toMatchObject({ ttl: 3_600_000, tags: ['r:3'] })
    await cache.close()
  })
})
