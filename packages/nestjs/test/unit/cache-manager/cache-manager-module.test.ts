/**
 * The drop-in module's options, without a network: cache-manager's options it cannot honour are
 * refused by name, TTLs are milliseconds, the three async forms of `@nestjs/cache-manager`
 * (`useFactory`, `useClass`, `useExisting`) build the manager, and a borrowed `@ayala/cache` is
 * not closed at shutdown while a created one is.
 */
import 'reflect-metadata'
import { createCache } from '@ayala/cache'
import { Injectable, Module } from '@nestjs/common'
import { Test } from '@nestjs/testing'
import { describe, expect, it } from 'vitest'
import {
  AyalaCacheManager,
  AyalaCacheManagerModule,
  CACHE_MANAGER,
  type CacheManagerOptions,
  createCacheManager,
} from '../../../src/cache-manager/index.js'

function refusal(options: Record<string, unknown>): string | undefined {
  try {
    createCacheManager(options as CacheManagerOptions)
    return undefined
  } catch (error) {
    return `${(error as { code?: string }).code}: ${(error as Error).message}`
  }
}

describe('createCacheManager options', () => {
  it("refuses cache-manager's stores, nonBlocking and refreshAllStores by name, and bad TTLs", () => {
    expect(refusal({ stores: [] })).toMatch(/^E_NEST_INVALID_OPTION: .*stores.*give redis/)
    expect(refusal({ nonBlocking: true })).toMatch(/nonBlocking/)
    expect(refusal({ refreshAllStores: true })).toMatch(/refreshAllStores/)
    expect(refusal({ ttl: -1 })).toMatch(/ttl.*milliseconds/)
    expect(refusal({ ttl: '5s' })).toMatch(/ttl.*milliseconds/)
    expect(refusal({ refreshThreshold: Number.NaN })).toMatch(/refreshThreshold/)
    expect(refusal({ noExpiryTtl: 0 })).toMatch(/noExpiryTtl/)
    expect(refusal({ namespce: 'typo' })).toMatch(/namespce/)
    expect(refusal({ cache: createCache(), namespace: 'given twice' })).toMatch(/namespace/)
  })

  it('a call TTL of 0, or none with no module TTL, is noExpiryTtl', async () => {
    const manager = createCacheManager({ noExpiryTtl: '1h' })
    const at = Date.now()
    await manager.set('a', 1)
    await manager.set('b', 1, 0)
    for (const key of ['a', 'b']) {
      const expires = (await manager.ttl(key)) as number
      expect(expires - at).toBeGreaterThanOrEqual(3_600_000)
      expect(expires - at).toBeLessThan(3_601_000)
    }
    await manager.disconnect()
  })
})

@Injectable()
class CacheConfig {
  createCacheOptions(): CacheManagerOptions {
    return { ttl: 1234, namespace: 'from-class' }
  }
}

@Module({ providers: [CacheConfig], exports: [CacheConfig] })
class ConfigModule {}

describe('AyalaCacheManagerModule', () => {
  it.each([
    ['useFactory', { useFactory: () => ({ ttl: 1234, namespace: 'from-class' }) }],
    ['useClass', { useClass: CacheConfig }],
    ['useExisting', { imports: [ConfigModule], useExisting: CacheConfig }],
  ])('registerAsync with %s', async (_form, options) => {
    const moduleRef = await Test.createTestingModule({
      imports: [AyalaCacheManagerModule.registerAsync(options)],
    }).compile()
    const manager = moduleRef.get<AyalaCacheManager>(CACHE_MANAGER)
    expect(manager).toBeInstanceOf(AyalaCacheManager)
    expect(moduleRef.get(AyalaCacheManager)).toBe(manager)
    expect(manager.cacheId()).toBe('from-class')
    const list = await manager.mset([{ key: 'k', value: 1 }])
    expect(list).toEqual([{ key: 'k', value: 1, ttl: 1234 }])
    await moduleRef.close()
  })

  it('registerAsync takes exactly one form', () => {
    expect(() => AyalaCacheManagerModule.registerAsync({})).toThrow(
      /one of useFactory, useClass, useExisting/,
    )
    expect(() =>
      AyalaCacheManagerModule.registerAsync({ useFactory: () => ({}), useClass: CacheConfig }),
    ).toThrow(/one of/)
    expect(() => AyalaCacheManagerModule.registerAsync({ useFactory: () => ({}), ttl: 5 } as never)).toThrow(
      /ttl/,
    )
  })

  it('closes the cache it created at shutdown, never a borrowed one', async () => {
    const borrowed = createCache({ namespace: 'borrowed' })
    const owned = await Test.createTestingModule({
      imports: [AyalaCacheManagerModule.register({})],
    }).compile()
    const lent = await Test.createTestingModule({
      imports: [AyalaCacheManagerModule.register({ cache: borrowed })],
    }).compile()
    const ownedCache = owned.get<AyalaCacheManager>(CACHE_MANAGER).cache
    await owned.init()
    await lent.init()
    await owned.close()
    await lent.close()
    await expect(ownedCache.get('x')).rejects.toMatchObject({ code: 'E_CACHE_CLOSED' })
    await borrowed.set('x', 1)
    expect(await borrowed.get('x')).toBe(1)
    await borrowed.close()
  })
})
