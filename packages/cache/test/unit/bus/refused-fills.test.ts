import { describe, expect, it } from 'vitest'
import { onBusMessage } from '../../../src/bus/coherence.js'
import type { CacheStack } from '../../../src/cache-stack.js'
import { createCache } from '../../../src/index.js'

function stackOf(cache: ReturnType<typeof createCache>): CacheStack {
  return (cache as unknown as { stack: CacheStack }).stack
}

describe('an awaited drop notice refuses late L1 fills of its keys', () => {
  it('for redisTimeout after the confirmation, then fills again; untouched keys fill', async () => {
    const cache = createCache({ redisTimeout: '50ms' })
    const stack = stackOf(cache)
    const now = Date.now()
    onBusMessage(stack, { i: 'peer', at: now, d: ['dropped'], x: ['expired'], a: 'peer.0' })
    expect(stack.fillRefused('dropped', now)).toBe(true)
    expect(stack.fillRefused('expired', now)).toBe(true)
    expect(stack.fillRefused('other', now)).toBe(false)
    expect(stack.fillRefused('dropped', now + 51)).toBe(false)
    expect(stack.refusedFills.size).toBe(0) // purged once past
    await cache.close()
  })

  it('a notice nobody awaits refuses nothing (default behaviour unchanged)', async () => {
    const cache = createCache()
    const stack = stackOf(cache)
    onBusMessage(stack, { i: 'peer', at: Date.now(), d: ['k'] })
    expect(stack.refusedFills.size).toBe(0)
    await cache.set('k', 1)
    expect(await cache.get('k')).toBe(1)
    await cache.close()
  })
})
