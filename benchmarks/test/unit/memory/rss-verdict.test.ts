import { describe, expect, it } from 'vitest'
import { rssVerdict } from '../../../src/scenarios/memory-consumer.js'

const MB = 1024 * 1024
const series = (f: (i: number) => number, n = 40) =>
  Array.from({ length: n }, (_, i) => [i, f(i) * MB] as const)

describe('rssVerdict', () => {
  it('a warm-up then a plateau with noise is flat', () => {
    const v = rssVerdict(series((i) => (i < 3 ? 100 + i * 40 : 250 + (i % 3) * 4)))
    expect(v.growing).toBe(false)
    expect(v.samples).toBe(36)
  })

  it('a steady climb past max(16 MB, 10%) is growing', () => {
    const v = rssVerdict(series((i) => 200 + i * 3))
    expect(v.growing).toBe(true)
    expect(v.growth).toBeGreaterThan(16 * MB)
  })

  it('growth under 10% of a large RSS is flat', () => {
    const v = rssVerdict(series((i) => 1_000 + i))
    expect(v.growth).toBeGreaterThan(16 * MB)
    expect(v.growing).toBe(false)
  })
})
