import { describe, expectTypeOf, it } from 'vitest'
import {
  changelog,
  type DashboardSnapshot,
  defineChangelogView,
  defineView,
  type Figures,
  type Ranked,
} from '../../../src/index.js'
import {
  type invoiceAggregates,
  invoiceAggregates as invoiceAggregatesValue,
  invoiceView,
} from '../../helpers/invoices.js'

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

describe('changelog figure types', () => {
  it('reads every changelog figure as Record<string, number>, beside the embedded ones', () => {
    const figures = changelog({
      topic: 't',
      key: ['status'],
      figures: { flinkByStatus: { column: 'invoices' } },
    })
    const view = defineView({
      name: 'v',
      eventTime: invoiceView.eventTime,
      rows: invoiceView.rows,
      aggregates: { ...invoiceAggregatesValue, ...figures },
    })
    type F = Figures<typeof view.aggregates>
    expectTypeOf<F['flinkByStatus']>().toEqualTypeOf<Record<string, number>>()
    expectTypeOf<F['clients']>().toEqualTypeOf<number>()
    const only = defineChangelogView({ name: 'w', topic: 't', figures: { n: { column: 'c' } } })
    expectTypeOf<Figures<typeof only.aggregates>['n']>().toEqualTypeOf<Record<string, number>>()
  })
})
