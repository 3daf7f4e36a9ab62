import { describe, expect, it } from 'vitest'
import { aggregateSignature, DeltaPlan, encodeContribution } from '../../../src/aggregates/plan.js'
import { compareVersions, entityKey, entityVersion } from '../../../src/consume/entity.js'
import { day, defineAggregates, defineView, MetricsStreamError, viewKeys } from '../../../src/index.js'

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    if (error instanceof MetricsStreamError) return error.code
    throw error
  }
  return undefined
}

interface Row {
  status: string
  cents: number
  client: string
  at: number
}

const aggregates = defineAggregates<Row>()((a) => ({
  rows: a.count(),
  cents: a.sum({ value: (r) => r.cents, by: { status: (r) => r.status }, bucket: day((r) => r.at) }),
  clients: a.distinct({ value: (r) => r.client }),
}))

describe('entity mode rules', () => {
  it('accepts string and safe-integer keys, refuses the rest with E_STREAM_INVALID_ENTITY', () => {
    expect(entityKey('inv-1')).toBe('inv-1')
    expect(entityKey(42)).toBe('42')
    for (const bad of ['', 'x'.repeat(1_025), 1.5, Number.NaN, null, undefined, {}, 2n]) {
      expect(code(() => entityKey(bad))).toBe('E_STREAM_INVALID_ENTITY')
    }
  })

  it('canonicalizes versions (safe integers and bigints) and orders them without BigInt', () => {
    expect(entityVersion(0)).toBe('0')
    expect(entityVersion(12n ** 20n)).toBe('3833759992447475122176')
    for (const bad of [-1, 1.5, Number.POSITIVE_INFINITY, '3', null, undefined, -1n, 2 ** 53]) {
      expect(code(() => entityVersion(bad))).toBe('E_STREAM_INVALID_ENTITY')
    }
    const sorted = ['10', '9', '100', '0', '3833759992447475122176', '11'].sort(compareVersions)
    expect(sorted).toEqual(['0', '9', '10', '11', '100', '3833759992447475122176'])
    expect(compareVersions('7', '7')).toBe(0)
  })

  it('refuses a view with both rows and entity', () => {
    expect(
      code(() =>
        defineView<Row, Row, typeof aggregates>({
          name: 'both',
          eventTime: (r) => r.at,
          rows: (r) => ({ add: r }),
          entity: (r) => ({ key: r.client, version: 1, row: r }),
          aggregates,
        }),
      ),
    ).toBe('E_STREAM_INVALID_OPTION')
    const view = defineView<Row, Row, typeof aggregates>({
      name: 'entities',
      eventTime: (r) => r.at,
      entity: (r) => ({ key: r.client, version: 1, row: r }),
      aggregates,
    })
    expect(view.mode).toBe('entity')
    expect(aggregateSignature(view.aggregates)).toEqual(['rows:count', 'cents:sum:day', 'clients:distinct'])
  })

  it('stores a compact contribution and retracts exactly what was added', () => {
    const keys = viewKeys('ns', 'v', 1)
    const row: Row = { status: 'paid', cents: 1_234, client: 'c-1', at: Date.UTC(2026, 10, 27, 15) }
    const shapes = new DeltaPlan(aggregates, keys)
    const ops = shapes.rowOps(row)
    const stored = encodeContribution(ops)
    // The distinct member is not stored (a HyperLogLog cannot forget).
    expect(stored).toBe(`[[0,"_",1],[1,"paid",1234,${Date.UTC(2026, 10, 27)}]]`)
    const plan = new DeltaPlan(aggregates, keys)
    plan.mergeOps(ops, 1)
    plan.retractStored(stored)
    const argv: string[] = []
    plan.encode([], argv)
    // Count and sum cancel out (zero deltas are not sent); the distinct member stays added.
    expect(argv).toEqual(['p', '1', '0', '1', 'c-1'])
    expect(code(() => new DeltaPlan(aggregates, keys).retractStored('[[2,"c-1",1]]'))).toBe(
      'E_STREAM_STATE_CORRUPT',
    )
    expect(code(() => new DeltaPlan(aggregates, keys).retractStored('not json'))).toBe(
      'E_STREAM_STATE_CORRUPT',
    )
  })
})
