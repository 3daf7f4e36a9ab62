import { describe, expect, it } from 'vitest'
import { type CacheError, createCache, DEFAULT_CACHE_OPTIONS, InvalidOptionError } from '../../src/index.js'

function optionError(options: unknown): CacheError {
  try {
    createCache(options as never)
  } catch (error) {
    return error as CacheError
  }
  throw new Error('expected createCache to throw')
}

describe('options', () => {
  it('resolves defaults into a frozen object of milliseconds', () => {
    const cache = createCache()
    expect(Object.isFrozen(cache.options)).toBe(true)
    expect(Object.isFrozen(DEFAULT_CACHE_OPTIONS)).toBe(true)
    expect(cache.options).toMatchObject({
      ttl: 300_000,
      l1Ttl: 60_000,
      redisTimeout: 50,
      connectTimeout: 2_000,
      grace: 0,
      negativeTtl: 10_000,
    })
  })

  it.each([
    [{ tll: '1m' }, 'tll'],
    [{ namespace: 'a{b}' }, 'namespace'],
    [{ namespace: '' }, 'namespace'],
    [{ prefix: '{x}' }, 'prefix'],
    [{ ttl: '10 minutes' }, 'ttl'],
    [{ ttl: 0 }, 'ttl'],
    [{ l1Ttl: -1 }, 'l1Ttl'],
    [{ jitter: 2 }, 'jitter'],
    [{ grace: 'long' }, 'grace'],
    [{ l1MaxEntries: 0 }, 'l1MaxEntries'],
    [{ l1MaxBytes: 1.5 }, 'l1MaxBytes'],
    [{ redisTimeout: 0 }, 'redisTimeout'],
    [{ connectTimeout: '2 s' }, 'connectTimeout'],
    [{ breakerThreshold: -3 }, 'breakerThreshold'],
    [{ bus: 'yes' }, 'bus'],
    [{ lease: 1 }, 'lease'],
    [{ l1Values: 'copy' }, 'l1Values'],
    [{ redis: 6379 }, 'redis'],
    [{ onL2Unavailable: 'throw' }, 'onL2Unavailable'],
    [{ recoveryMaxItems: 0 }, 'recoveryMaxItems'],
    [{ recoveryRetryDelay: 'often' }, 'recoveryRetryDelay'],
    [{ recoveryHold: -1 }, 'recoveryHold'],
    [{ busHeartbeat: '1 second' }, 'busHeartbeat'],
  ])('rejects %o naming %s', (options, option) => {
    const error = optionError(options)
    expect(error.code).toMatch(/^E_CACHE_INVALID_(OPTION|DURATION)$/)
    expect(error.option).toBe(option)
    expect(error.message).toContain(`"${option}"`)
  })

  it('accepts undefined for any option (strict consumers pass process.env values)', () => {
    expect(() => createCache({ ttl: undefined, redis: undefined, namespace: undefined })).not.toThrow()
  })

  it('validates per-call options too', async () => {
    const cache = createCache()
    await expect(cache.set('k', 1, { ttl: 'soon' as never })).rejects.toBeInstanceOf(Error)
    await expect(cache.delete('k', { onL2Unavailable: 'later' as never })).rejects.toMatchObject({
      option: 'onL2Unavailable',
    })
    await expect(cache.invalidateTags(['t'], { mode: 'later' as never })).rejects.toBeInstanceOf(
      InvalidOptionError,
    )
  })
})
