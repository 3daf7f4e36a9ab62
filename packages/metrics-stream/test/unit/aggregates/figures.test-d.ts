import { describe, expectTypeOf, it } from 'vitest'
import type { DashboardSnapshot, Figures, Ranked } from '../../../src/index.js'
import type { invoiceAggregates } from '../../helpers/invoices.js'

describe('figure types follow the aggregate definitions', () => {
  type F = Figures<typeof invoiceAggregates>
  it('types each figure from its options', () => {
    expectTypeOf<F['invoices']>().toEqualTypeOf<number>()
    expectTypeOf<F['byStatus']>().toEqualTypeOf<Record<string, number>>()
    expectTypeOf<F['amountByDay']>().toEqualTypeOf<Record<string, Record<string, number>>>()
    expectTypeOf<F['topClients']>().toEqualTypeOf<Ranked[]>()
    expectTypeOf<F['clients']>().toEqualTypeOf<number>()
  })
  it('types snapshots', () => {
    expectTypeOf<DashboardSnapshot<typeof invoiceAggregates>['figures']['clients']>().toEqualTypeOf<number>()
  })
})
