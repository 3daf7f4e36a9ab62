import { describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { entrySuffix, KeySpace, tagSuffix } from '../../src/keys.js'
import { estimateSize } from '../../src/tiers/size.js'

describe('key layout', () => {
  it('puts the prefix once and the namespace as the hash tag', () => {
    const keys = new KeySpace('app:', 'invoices')
    expect(keys.entry('invoice:42')).toBe('app:{invoices}:e:invoice:42')
    expect(keys.tag(tagSuffix('client:7'))).toBe('app:{invoices}:t:client:7')
    expect(keys.lease('k')).toBe('app:{invoices}:l:e:k')
    expect(keys.channel).toBe('app:{invoices}:bus')
    expect(keys.generation).toBe('app:{invoices}:g')
  })

  it('maps every distinct string to a distinct key, lone surrogates included', () => {
    const inputs = ['\ud800', '\udc00', '\ud800\udc00', 'd800', 'E:d800', '', ' ', '{x}', 'e:k', 'k']
    const suffixes = inputs.map(entrySuffix)
    expect(new Set(suffixes).size).toBe(inputs.length)
    for (const s of suffixes) expect((s as unknown as { isWellFormed(): boolean }).isWellFormed()).toBe(true)
  })
})

describe('L1 size estimate', () => {
  it('grows with the value and stays bounded for huge ones', () => {
    expect(estimateSize('x'.repeat(1_000))).toBeGreaterThan(estimateSize('x'))
    expect(estimateSize({ a: [1, 2, 3], m: new Map([[1, 'one']]) })).toBeGreaterThan(32)
    const huge = Array.from({ length: 100_000 }, (_, i) => ({ i }))
    expect(Number.isFinite(estimateSize(huge))).toBe(true)
  })
})

describe('getOrSetMany and single-key calls', () => {
  it('single-key callers join a batch in flight instead of loading again', async () => {
    const cache = createCache()
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let batchCalls = 0
    let singleCalls = 0
    const batch = cache.getOrSetMany(['a', 'b'], async (keys) => {
      batchCalls++
      await gate
      return keys.map((k) => k.toUpperCase())
    })
    await new Promise((resolve) => setTimeout(resolve, 0))
    const single = cache.getOrSet('a', async () => {
      singleCalls++
      return 'single'
    })
    release()
    expect(await batch).toEqual(['A', 'B'])
    expect(await single).toBe('A')
    expect({ batchCalls, singleCalls }).toEqual({ batchCalls: 1, singleCalls: 0 })
  })

  it('a failing batch rejects its callers and caches nothing', async () => {
    const cache = createCache()
    await expect(
      cache.getOrSetMany(['a'], async () => {
        throw new Error('db down')
      }),
    ).rejects.toThrow('db down')
    expect(await cache.get('a')).toBeUndefined()
    expect(await cache.getOrSet('a', async () => 'ok')).toBe('ok')
  })
})
