import { describe, expect, it } from 'vitest'
import { MetricsStreamError, partitionKeys } from '../../src/index.js'

describe('partitionKeys', () => {
  it('puts every key of a partition under one hash tag', () => {
    const keys = partitionKeys('dash', 'invoices', 3)
    expect(keys.slot).toBe('{dash:invoices:3}')
    expect(keys.state.startsWith(keys.slot)).toBe(true)
    expect(keys.aggregatePrefix.startsWith(keys.slot)).toBe(true)
  })

  it.each([
    ['', 'invoices', 0],
    ['dash', 'in{v}', 0],
    ['dash', 'a b', 0],
    ['dash', 'invoices', -1],
    ['dash', 'invoices', 1.5],
  ])('rejects namespace %j topic %j partition %j', (namespace, topic, partition) => {
    expect(() => partitionKeys(namespace, topic, partition)).toThrowError(MetricsStreamError)
  })
})
