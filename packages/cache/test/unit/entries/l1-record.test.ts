/**
 * The L1 record's shape (memory: `memory-l1` in benchmarks/): untagged records share one versions
 * array per generation, and the bus-down demotion is a counter on the stack, not a time per record.
 */
import { describe, expect, it } from 'vitest'
import type { CacheStack, L1Record } from '../../../src/cache-stack.js'
import { createCache } from '../../../src/index.js'

const stackOf = (cache: object) => (cache as unknown as { stack: CacheStack }).stack
const record = (stack: CacheStack, key: string) => stack.l1.peek(key) as L1Record

describe('L1 records', () => {
  it('untagged records of one generation share their versions array; tagged ones keep their own', async () => {
    const cache = createCache()
    const stack = stackOf(cache)
    await cache.set('a', 1)
    await cache.set('b', 2)
    await cache.set('t', 3, { tags: ['x'] })
    expect(record(stack, 'a').versions).toBe(record(stack, 'b').versions)
    expect(record(stack, 't').versions).not.toBe(record(stack, 'a').versions)
    expect(record(stack, 't').versions).toHaveLength(2)
    await cache.clear()
    await cache.set('c', 4)
    // A new generation: a new shared array, and the records of the old one are gone.
    expect(record(stack, 'c').versions).not.toBe(record(stack, 'a')?.versions)
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([undefined, undefined, 4])
    await cache.close()
  })

  it('generationOnly shares only one-element arrays of the same version', () => {
    const stack = stackOf(createCache())
    const first = stack.generationOnly([7])
    expect(first).toEqual([7])
    expect(Object.isFrozen(first)).toBe(true)
    expect(stack.generationOnly([7])).toBe(first)
    const next = stack.generationOnly([8])
    expect(next).not.toBe(first)
    expect(stack.generationOnly([8])).toBe(next)
    const two = [8, 1]
    expect(stack.generationOnly(two)).toBe(two)
    expect(stack.generationOnly([8])).toBe(next)
  })

  it('a record stored before a bus-down demotion is stale, one stored after it is fresh', async () => {
    const cache = createCache({ grace: '1m' })
    const stack = stackOf(cache)
    await cache.set('before', 1)
    stack.demotions++
    stack.seq++
    await cache.set('after', 2)
    expect(record(stack, 'before').epoch).toBeLessThan(stack.demotions)
    expect(record(stack, 'after').epoch).toBe(stack.demotions)
    // A stale record is a grace fallback only: a get() misses it, getOrSet serves the loader's value.
    expect(await cache.getOrSet('before', async () => 10)).toBe(10)
    expect(await cache.getOrSet('after', async () => 20)).toBe(2)
    await cache.close()
  })
})
