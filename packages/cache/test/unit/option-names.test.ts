/**
 * The one option vocabulary (docs/architecture.md): renamed options keep their old name as a
 * deprecated alias (same value, one DeprecationWarning per process, both names an error), and
 * every factory of the package refuses unknown keys, naming every one.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  Cacheable,
  CacheInvalidate,
  CachePut,
  createCache,
  InvalidOptionError,
  prometheusMetrics,
} from '../../src/index.js'

/** The error `fn` throws (fails the test when it throws nothing). */
function thrown(fn: () => unknown): InvalidOptionError {
  try {
    fn()
  } catch (error) {
    return error as InvalidOptionError
  }
  throw new Error('expected a throw')
}

describe('renamed options', () => {
  const warnings: Array<{ name: string; code: string | undefined }> = []
  const onWarning = (warning: Error & { code?: string }) =>
    warnings.push({ name: warning.name, code: warning.code })
  beforeEach(() => {
    warnings.length = 0
    process.on('warning', onWarning)
  })
  afterEach(() => {
    process.off('warning', onWarning)
  })
  /** Warnings are emitted on the next tick. */
  const settled = () => new Promise((resolve) => setImmediate(resolve))

  it.each([
    ['leaseWait', 'leaseWaitTimeout', '7s', 7_000, 'AYALA_CACHE_LEASEWAIT'],
    ['leasePoll', 'leasePollInterval', '40ms', 40, 'AYALA_CACHE_LEASEPOLL'],
    ['recoveryRetryDelay', 'recoveryRetryInterval', '250ms', 250, 'AYALA_CACHE_RECOVERYRETRYDELAY'],
    ['busHeartbeat', 'busHeartbeatInterval', '3s', 3_000, 'AYALA_CACHE_BUSHEARTBEAT'],
  ])('%s is a deprecated alias of %s', async (from, to, value, ms, code) => {
    const current = createCache({ [to]: value })
    expect((current.options as unknown as Record<string, number>)[to]).toBe(ms)
    await settled()
    expect(warnings).toEqual([])

    const old = createCache({ [from]: value })
    const resolved = old.options as unknown as Record<string, number>
    expect(resolved[to]).toBe(ms)
    expect(resolved[from]).toBe(ms) // the resolved object keeps the old field too
    createCache({ [from]: value }) // a second instance: no second warning
    await settled()
    expect(warnings).toEqual([{ name: 'DeprecationWarning', code }])

    const both = thrown(() => createCache({ [from]: value, [to]: value }))
    expect(both).toBeInstanceOf(InvalidOptionError)
    expect(both.code).toBe('E_CACHE_INVALID_OPTION')
    expect(both.message).toContain(`"${to}"`)

    const invalid = thrown(() => createCache({ [from]: 'soon' }))
    expect(invalid.option).toBe(from) // validated under the name given
  })

  it('defaults are the same under both names', () => {
    const o = createCache().options
    expect([
      o.leaseWaitTimeout,
      o.leasePollInterval,
      o.recoveryRetryInterval,
      o.busHeartbeatInterval,
    ]).toEqual([3_000, 25, 100, 1_000])
    expect([o.leaseWait, o.leasePoll, o.recoveryRetryDelay, o.busHeartbeat]).toEqual([3_000, 25, 100, 1_000])
  })
})

describe('unknown option keys', () => {
  it('createCache names every unknown key', () => {
    const error = thrown(() => createCache({ tll: '1m', leasePol: 5, ttl: '1m' } as never))
    expect(error.code).toBe('E_CACHE_INVALID_OPTION')
    expect(error.option).toBe('tll, leasePol')
    expect(error.message).toContain('tll')
    expect(error.message).toContain('leasePol')
  })

  it.each([
    ['Cacheable', () => Cacheable({ key: 'k', ttll: '1m' } as never), 'ttll'],
    ['CachePut', () => CachePut({ key: 'k', lease: true } as never), 'lease'],
    [
      'CacheInvalidate',
      () => CacheInvalidate({ tags: ['t'], mod: 'expire', keyz: [] } as never),
      'mod, keyz',
    ],
    ['prometheusMetrics', () => prometheusMetrics([], { prefx: 'x_' } as never), 'prefx'],
  ])('%s refuses unknown keys by name', (_name, make, named) => {
    const error = thrown(make)
    expect(error).toBeInstanceOf(InvalidOptionError)
    expect(error.option).toBe(named)
  })

  it('the known keys still work', () => {
    expect(() => Cacheable({ key: 'k', tags: ['t'], ttl: '1m', lease: true, cache: 'c' })).not.toThrow()
    expect(() => CachePut({ key: 'k', ttl: '1m' })).not.toThrow()
    expect(() => CacheInvalidate({ keys: ['k'], mode: 'expire' })).not.toThrow()
    expect(prometheusMetrics([], { prefix: 'x_' })).toContain('x_')
  })
})
