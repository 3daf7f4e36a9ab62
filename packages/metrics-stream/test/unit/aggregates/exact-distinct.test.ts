/**
 * `distinct({ exact: true })`: compiled like a grouped count (a hash field per value), stored in
 * an entity's contribution and retracted, named apart in the aggregate signature; and the
 * `figures` selection of a read, refused for names the view lacks.
 */
import { describe, expect, it } from 'vitest'
import { aggregateSignature, DeltaPlan, encodeContribution } from '../../../src/aggregates/plan.js'
import { defineAggregates, distinct, MetricsStreamError, month, viewKeys } from '../../../src/index.js'
import { selectedAggregates } from '../../../src/read/fetch.js'

interface Row {
  client: string
  at: number
}

const aggregates = defineAggregates<Row>()((a) => ({
  approx: a.distinct({ value: (r) => r.client }),
  clients: a.distinct({ value: (r) => r.client, exact: true, bucket: month((r) => r.at) }),
}))

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    if (error instanceof MetricsStreamError) return error.code
    throw error
  }
  return undefined
}

describe('exact distinct', () => {
  it('is a hash of values: stored in the contribution and retracted, unlike a HyperLogLog', () => {
    const keys = viewKeys('ns', 'v', 1)
    const row: Row = { client: 'c-7', at: Date.UTC(2026, 10, 27, 15) }
    const ops = new DeltaPlan(aggregates, keys).rowOps(row)
    expect(encodeContribution(ops)).toBe(`[[1,"c-7",1,${Date.UTC(2026, 10, 1)}]]`)
    const plan = new DeltaPlan(aggregates, keys)
    plan.retractStored(encodeContribution(ops))
    const keysOut: string[] = []
    const argv: string[] = []
    plan.encode(keysOut, argv)
    expect(keysOut).toEqual([keys.aggregate('clients', '2026-11')])
    expect(argv).toEqual(['h', '1', '0', '1', 'c-7', '-1'])
    expect(aggregateSignature(aggregates)).toEqual(['approx:distinct', 'clients:distinct:exact:month'])
    expect(aggregates.clients.exact).toBe(true)
    expect(aggregates.approx.exact).toBe(false)
  })

  it('takes a boolean only', () => {
    expect(code(() => distinct<Row>({ value: (r) => r.client, exact: 'yes' as never }))).toBe(
      'E_STREAM_INVALID_OPTION',
    )
  })
})

describe('figures selection of a read', () => {
  it('keeps the named figures, in the view order; refuses unknown names and an empty list', () => {
    expect(selectedAggregates(aggregates, undefined).map(([name]) => name)).toEqual(['approx', 'clients'])
    expect(selectedAggregates(aggregates, { figures: ['clients'] }).map(([name]) => name)).toEqual([
      'clients',
    ])
    expect(code(() => selectedAggregates(aggregates, { figures: ['nope'] }))).toBe('E_STREAM_INVALID_READ')
    expect(code(() => selectedAggregates(aggregates, { figures: [] }))).toBe('E_STREAM_INVALID_READ')
    expect(code(() => selectedAggregates(aggregates, { figures: ['toString'] }))).toBe(
      'E_STREAM_INVALID_READ',
    )
  })
})
