import { CACHE_CHANNELS } from '@ayala/cache'
import { describe, expect, it } from 'vitest'
import { CACHE_CHANNEL_NAMES } from '../../../src/metrics/index.js'

describe('CACHE_CHANNEL_NAMES', () => {
  it("matches @ayala/cache's published channel names", () => {
    for (const [event, name] of Object.entries(CACHE_CHANNEL_NAMES)) {
      expect(CACHE_CHANNELS[event as keyof typeof CACHE_CHANNELS]).toBe(name)
    }
  })
})
