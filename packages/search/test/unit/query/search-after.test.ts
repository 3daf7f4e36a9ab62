/**
 * `searchAfter` in a typed search request: compiled into `search_after` with the id tiebreak
 * appended to the sort, and refused before any request when it cannot continue the sort.
 */
import { describe, expect, it } from 'vitest'
import { SearchError } from '../../../src/index.js'
import { searchBody } from '../../../src/query/compile.js'
import { basicInvoices } from '../../helpers/invoices.js'

const invoices = basicInvoices('invoices')

function refusal(
  request: Parameters<typeof searchBody<typeof invoices extends { fields: infer F } ? F : never>>[1],
) {
  try {
    searchBody(invoices as never, request as never, false)
  } catch (error) {
    return error instanceof SearchError ? error.code : String(error)
  }
  return 'accepted'
}

describe('searchAfter', () => {
  it('continues after the given sort values, the id appended to the sort', () => {
    const body = searchBody(invoices, { sort: ['_score'], searchAfter: [1.25, 'inv-000007'], size: 5 }, false)
    expect(body.sort).toEqual([{ _score: { order: 'desc' } }, { id: { order: 'asc' } }])
    expect(body.search_after).toEqual([1.25, 'inv-000007'])
  })

  it('is refused without a sort, with from, or with values that do not fit the sort', () => {
    expect(refusal({ searchAfter: ['inv-1'] })).toBe('E_SEARCH_INVALID_VALUE')
    expect(refusal({ sort: ['_score'], searchAfter: [1, 'inv-1'], from: 10 })).toBe('E_SEARCH_INVALID_VALUE')
    expect(refusal({ sort: ['_score'], searchAfter: ['high', 'inv-1'] })).toBe('E_SEARCH_INVALID_VALUE')
    expect(refusal({ sort: ['_score'], searchAfter: [1] })).toBe('E_SEARCH_INVALID_VALUE')
    expect(refusal({ sort: ['_score'], searchAfter: [1, 'inv-1', 3] })).toBe('E_SEARCH_INVALID_VALUE')
    expect(refusal({ sort: ['totalCents'], searchAfter: [null, 'inv-1'] })).toBe('E_SEARCH_INVALID_VALUE')
    expect(refusal({ sort: ['totalCents'], searchAfter: [100, 'inv-1'] })).toBe('accepted')
  })
})
