import { describe, expect, it } from 'vitest'
import { splitRange } from '../../../src/index.js'

describe('splitRange', () => {
  it('cuts integer ranges into consecutive equal parts covering the parent', () => {
    const parts = splitRange({}, { min: 1, max: 1_000 }, 4)
    expect(parts).toEqual([
      { gte: undefined, lt: 251 },
      { gte: 251, lt: 501 },
      { gte: 501, lt: 751 },
      { gte: 751, lt: undefined },
    ])
    expect(splitRange({ gte: 10, lt: 12 }, { min: 1, max: 1_000 }, 16)).toEqual([
      { gte: 10, lt: 11 },
      { gte: 11, lt: 12 },
    ])
    expect(splitRange({ gte: 10, lt: 11 }, { min: 1, max: 1_000 }, 16)).toEqual([{ gte: 10, lt: 11 }])
  })

  it('cuts string ranges at increasing points strictly inside the parent', () => {
    const parts = splitRange({ gte: 'INV-0001', lt: 'INV-0999' }, { min: 'INV-0001', max: 'INV-0999' }, 8)
    expect(parts.length).toBeGreaterThan(2)
    expect(parts[0]?.gte).toBe('INV-0001')
    expect(parts.at(-1)?.lt).toBe('INV-0999')
    for (let i = 1; i < parts.length; i++) {
      const point = parts[i]?.gte as string
      expect(point).toBe(parts[i - 1]?.lt)
      expect(point > 'INV-0001' && point < 'INV-0999').toBe(true)
      if (i > 1) expect(point > (parts[i - 1]?.gte as string)).toBe(true)
    }
  })
})
