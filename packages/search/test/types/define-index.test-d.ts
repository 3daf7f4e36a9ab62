import { describe, expectTypeOf, it } from 'vitest'
import { createSearchClient, type DocumentOf } from '../../src/index.js'
import { type basicInvoices, spanishInvoices } from '../helpers/invoices.js'

const invoices = spanishInvoices('types')
type Invoice = DocumentOf<typeof invoices>

describe('document type', () => {
  it('is inferred from the declaration', () => {
    expectTypeOf<Invoice['total']>().toEqualTypeOf<number>()
    expectTypeOf<Invoice['paid']>().toEqualTypeOf<boolean>()
    expectTypeOf<Invoice['description']>().toEqualTypeOf<string>()
    expectTypeOf<Invoice['issuedAt']>().toEqualTypeOf<string>()
  })
})

describe('optional fields', () => {
  it('are optional and nullable in the document type, others required', () => {
    type Basic = DocumentOf<ReturnType<typeof basicInvoices>>
    expectTypeOf<Basic['notes']>().toEqualTypeOf<string | null | undefined>()
    expectTypeOf<Pick<Basic, 'id' | 'notes'>>().toEqualTypeOf<{
      id: string
      notes?: string | null | undefined
    }>()
  })
})

describe('field-kind-aware query helpers', () => {
  const { q } = invoices
  it('allow full-text only on text fields', () => {
    q.match('description', 'x')
    q.multiMatch({ description: 1, clientName: 2 }, 'x')
    // @ts-expect-error status is a keyword field
    q.match('status', 'x')
    // @ts-expect-error total is numeric
    q.multiMatch(['total'], 'x')
  })
  it('allow term/range only on keyword, numeric and date fields, with the right value type', () => {
    q.term('status', 'paid')
    q.range('total', { gte: 10 })
    q.range('issuedAt', { gte: '2026-01-01' })
    // @ts-expect-error description is a text field
    q.term('description', 'x')
    // @ts-expect-error total takes numbers
    q.range('total', { gte: '10' })
    // @ts-expect-error paid takes booleans
    q.term('paid', 'yes')
    // @ts-expect-error unknown field
    q.term('nope', 'x')
  })
  it('allow prefix only on identifiers and autocomplete only on autocomplete fields', () => {
    q.prefix('number', 'FAC')
    q.autocomplete('suggest', 'rep')
    // @ts-expect-error status is not an identifier
    q.prefix('status', 'x')
    // @ts-expect-error description is not an autocomplete field
    q.autocomplete('description', 'x')
  })
})

describe('typed search results', () => {
  it('infers aggregation results from the request', async () => {
    const search = createSearchClient({ node: 'http://127.0.0.1:9200' })
    const run = () =>
      search.search(invoices, {
        aggs: {
          byStatus: { terms: { field: 'status' }, aggs: { amount: { sum: { field: 'total' } } } },
          clients: { cardinality: { field: 'client' } },
        },
        sort: [{ field: 'issuedAt', order: 'desc' }],
      })
    type Result = Awaited<ReturnType<typeof run>>
    expectTypeOf<Result['hits'][number]['source']>().toEqualTypeOf<Invoice>()
    expectTypeOf<Result['aggregations']['clients']['value']>().toEqualTypeOf<number>()
    expectTypeOf<Result['aggregations']['byStatus']['buckets'][number]['amount']['value']>().toEqualTypeOf<
      number | null
    >()
    const bad = () =>
      search.search(invoices, {
        // @ts-expect-error sum needs a numeric field
        aggs: { x: { sum: { field: 'status' } } },
      })
    const badSort = () =>
      // @ts-expect-error description (text) is not sortable
      search.search(invoices, { sort: ['description'] })
    expectTypeOf(bad).toBeFunction()
    expectTypeOf(badSort).toBeFunction()
  })
})
