/**
 * The list page tags against an oracle: a write's tags meet a page's tags exactly when the
 * written day is within the page's range and the filters match (fast-check over the whole
 * calendar, open ends included), and a range never needs more than a few dozen tags.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { blocksOf, pageRange, pageTags, rangeBlocks, writeTags } from '../../src/invoices/list-tags.ts'

const FIRST = Date.UTC(1000, 0, 1)
const LAST = Date.UTC(9999, 11, 31)
const DAY = 86_400_000
const day = fc
  .oneof(
    fc.integer({ min: 0, max: Math.round((LAST - FIRST) / DAY) }).map((n) => FIRST + n * DAY),
    // Near today, where most data lives, and on block edges.
    fc.integer({ min: -800, max: 800 }).map((n) => Date.UTC(2026, 0, 1) + n * DAY),
    fc.constantFrom(Date.UTC(2000, 0, 1), Date.UTC(1999, 11, 31), Date.UTC(2024, 1, 29), FIRST, LAST),
  )
  .map((ms) => new Date(ms).toISOString().slice(0, 10))

describe('list page tags', () => {
  it('a range of days is covered by disjoint blocks holding exactly its days', () => {
    fc.assert(
      fc.property(day, day, day, (a, b, probe) => {
        const [from, to] = a <= b ? [a, b] : [b, a]
        const blocks = new Set(rangeBlocks(from, to))
        const hits = blocksOf(probe).filter((block) => blocks.has(block))
        expect(hits.length).toBe(probe >= from && probe <= to ? 1 : 0)
        expect(blocks.size).toBeLessThanOrEqual(150)
      }),
      { numRuns: 3_000 },
    )
  })

  it('the open ranges of first and last pages take few tags', () => {
    expect(rangeBlocks('1000-01-01', '9999-12-31')).toEqual([
      'M1',
      'M2',
      'M3',
      'M4',
      'M5',
      'M6',
      'M7',
      'M8',
      'M9',
    ])
    expect(rangeBlocks('2026-11-20', '9999-12-31').length).toBe(38)
    expect(rangeBlocks('2026-11-27', '2026-11-27')).toEqual(['d2026-11-27'])
    expect(rangeBlocks('2026-02-01', '2026-02-28')).toEqual(['m2026-02'])
  })

  it('a write drops a page iff a state of it matches the filters on a day of the range', () => {
    const state = fc.record({
      clientId: fc.integer({ min: 1, max: 3 }),
      status: fc.constantFrom('paid', 'draft'),
      issuedAt: day,
    })
    const filter = fc.record(
      { clientId: fc.integer({ min: 1, max: 3 }), status: fc.constantFrom('paid', 'draft') },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(filter, day, day, state, fc.option(state, { nil: undefined }), (f, a, b, before, after) => {
        const [from, to] = a <= b ? [a, b] : [b, a]
        const tags = new Set(pageTags(f, { from, to }, []))
        const dropped = writeTags(before, after).some((tag) => tags.has(tag))
        const affects = [before, after].some(
          (s) =>
            s !== undefined &&
            s.issuedAt >= from &&
            s.issuedAt <= to &&
            (f.clientId === undefined || f.clientId === s.clientId) &&
            (f.status === undefined || f.status === s.status),
        )
        expect(dropped).toBe(affects)
      }),
      { numRuns: 3_000 },
    )
  })

  it("a page's range: cursor day or to at the top, last item's day or from at the bottom", () => {
    expect(pageRange({}, undefined, '2026-11-01', true)).toEqual({ from: '2026-11-01', to: '9999-12-31' })
    expect(pageRange({}, '2026-11-20', '2026-11-01', false)).toEqual({ from: '1000-01-01', to: '2026-11-20' })
    expect(pageRange({ from: '2026-01-01', to: '2026-12-31' }, '2027-01-05', undefined, false)).toEqual({
      from: '2026-01-01',
      to: '2026-12-31',
    })
    expect(pageTags({ clientId: 7 }, { from: '2026-11-27', to: '2026-11-27' }, [7, 7, 9])).toEqual([
      'ilist:c7:d2026-11-27',
      'client:7',
      'client:9',
    ])
  })
})
