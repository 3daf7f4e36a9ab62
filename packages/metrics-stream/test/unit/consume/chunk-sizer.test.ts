import { describe, expect, it } from 'vitest'
import { ChunkSizer } from '../../../src/consume/chunk-sizer.js'
import { createMetricsConsumer, MetricsStreamError, type Source } from '../../../src/index.js'
import { invoiceView } from '../../helpers/invoices.js'

/** Feed the sizer scripts whose server time is `fixedUs + perRecordUs * records`. */
function run(sizer: ChunkSizer, scripts: number, fixedUs: number, perRecordUs: number): number[] {
  const sizes: number[] = []
  for (let i = 0; i < scripts; i++) {
    const records = sizer.size
    sizes.push(records)
    sizer.observe(records, fixedUs + perRecordUs * records)
  }
  return sizes
}

describe('ChunkSizer', () => {
  it('without a budget, every chunk has the maximum size', () => {
    const sizer = new ChunkSizer(500, Number.POSITIVE_INFINITY)
    expect(new Set(run(sizer, 20, 50, 10))).toEqual(new Set([500]))
  })

  it('starts at the maximum and converges to the records that fit the budget', () => {
    // 50 us per script + 2 us per record, budget 500 us: (500 - 50) / 2 = 225 records.
    const sizes = run(new ChunkSizer(500, 500), 60, 50, 2)
    expect(sizes[0]).toBe(500)
    const last = sizes[sizes.length - 1] as number
    expect(last).toBeGreaterThanOrEqual(220)
    expect(last).toBeLessThanOrEqual(225)
  })

  it('stays within 1 and the maximum', () => {
    expect(run(new ChunkSizer(500, 100), 10, 5_000, 50).at(-1)).toBe(1)
    expect(run(new ChunkSizer(300, 10_000), 10, 0, 0.5).at(-1)).toBe(300)
  })

  it('slow scripts (Redis descheduled) do not shrink the next chunk; a lasting slowdown does', () => {
    const sizer = new ChunkSizer(500, 500)
    run(sizer, 60, 50, 2)
    const settled = sizer.size
    // Three of five scripts interrupted: the work per record is still read from the other two.
    sizer.observe(settled, 20_000)
    sizer.observe(settled, 5_000)
    sizer.observe(settled, 9_000)
    expect(sizer.size).toBeGreaterThanOrEqual(settled - 5)
    // One unusually fast script does not oversize the next chunk.
    sizer.observe(settled, 10)
    expect(sizer.size).toBeLessThanOrEqual(settled + 5)
    run(sizer, 10, 50, 2)
    // Ten times slower from now on: (500 - 500) / 20 leaves room for the smallest chunks only.
    const slower = run(sizer, 6, 500, 20)
    expect(slower.at(-1)).toBeLessThan(settled / 5)
  })

  it('ignores an observation without records or with no time', () => {
    const sizer = new ChunkSizer(200, 500)
    sizer.observe(0, 1_000)
    sizer.observe(10, Number.NaN)
    expect(sizer.size).toBe(200)
  })
})

describe('scriptBudget option', () => {
  const source = {} as Source
  const base = { redis: {} as never, namespace: 'ns', view: invoiceView, source }

  it.each([0, -1, '5 ms', 'fast'])('rejects %j', (scriptBudget) => {
    expect(() => createMetricsConsumer({ ...base, scriptBudget: scriptBudget as never })).toThrowError(
      MetricsStreamError,
    )
  })

  it('accepts fractions of a millisecond and Infinity, and starts at chunkSize', () => {
    expect(createMetricsConsumer({ ...base, scriptBudget: '0.25ms' }).stats().chunkSize).toBe(500)
    expect(
      createMetricsConsumer({ ...base, scriptBudget: Number.POSITIVE_INFINITY, chunkSize: 50 }).stats()
        .chunkSize,
    ).toBe(50)
  })
})
