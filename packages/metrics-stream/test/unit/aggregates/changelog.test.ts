/**
 * Changelog figures as defined (`aggregates/changelog.ts`): the options refused by name, how a
 * record key becomes a group (text, JSON key columns, a function), the figures' kind and where a
 * view records its changelog topics. The applying itself is tested on Kafka and Redis
 * (`test/integration/consume/changelog.test.ts`).
 */
import { describe, expect, it } from 'vitest'
import { changelog, defineChangelogView, defineView, MetricsStreamError } from '../../../src/index.js'
import { invoiceAggregates, invoiceView } from '../../helpers/invoices.js'

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    return error instanceof MetricsStreamError ? error.code : 'not a MetricsStreamError'
  }
  return undefined
}

const group = (figures: Record<string, unknown>, name: string, key: string) =>
  (figures[name] as { changelog: { group: (key: Buffer) => string } }).changelog.group(Buffer.from(key))

describe('changelog()', () => {
  it('maps a key to its group: its text, JSON key columns joined by |, or a function', () => {
    const text = changelog({ topic: 't', figures: { n: { column: 'cnt' } } })
    expect(group(text, 'n', 'paid')).toBe('paid')
    const one = changelog({ topic: 't', key: ['status'], figures: { n: { column: 'cnt' } } })
    expect(group(one, 'n', '{"status":"paid","other":1}')).toBe('paid')
    const two = changelog({ topic: 't', key: ['status', 'day'], figures: { n: { column: 'cnt' } } })
    expect(group(two, 'n', '{"day":"2026-12-02","status":"open"}')).toBe('open|2026-12-02')
    expect(group(two, 'n', '{"day":20261202,"status":true}')).toBe('true|20261202')
    const custom = changelog({ topic: 't', key: (k) => k.toString('hex'), figures: { n: { column: 'cnt' } } })
    expect(group(custom, 'n', 'AB')).toBe('4142')
  })

  it('refuses a key that does not decode with E_STREAM_INVALID_EVENT (the record is dead-lettered)', () => {
    const figures = changelog({ topic: 't', key: ['status'], figures: { n: { column: 'cnt' } } })
    for (const key of ['paid', '"paid"', '{"other":"x"}', '{"status":null}', '{"status":{"a":1}}']) {
      expect(
        code(() => group(figures, 'n', key)),
        key,
      ).toBe('E_STREAM_INVALID_EVENT')
    }
  })

  it('refuses bad options by name with E_STREAM_INVALID_OPTION', () => {
    const figures = { n: { column: 'cnt' } }
    for (const bad of [
      { topic: '', figures },
      { topic: 't', figures: {} },
      { topic: 't', figures: { 'bad name': { column: 'cnt' } } },
      { topic: 't', figures: { n: { column: '' } } },
      { topic: 't', figures: { n: { column: 'cnt', value: 1 } } },
      { topic: 't', key: [], figures },
      { topic: 't', key: 'status', figures },
      { topic: 't', figures, topics: ['t'] },
    ]) {
      expect(
        code(() => changelog(bad as never)),
        JSON.stringify(bad),
      ).toBe('E_STREAM_INVALID_OPTION')
    }
  })

  it("gives 'latest' figures grouped by the key columns, and the view records its changelog topics", () => {
    const figures = changelog({
      topic: 'flink-out',
      key: ['status'],
      figures: { a: { column: 'x' }, b: { column: 'y' } },
    })
    expect(figures.a.kind).toBe('latest')
    expect(figures.a.dimensions).toEqual(['status'])
    const view = defineView({
      name: 'v',
      eventTime: invoiceView.eventTime,
      rows: invoiceView.rows,
      aggregates: { ...invoiceAggregates, ...figures },
    })
    expect([...view.changelogs]).toEqual([['flink-out', ['a', 'b']]])
    expect(
      defineView({
        name: 'w',
        eventTime: invoiceView.eventTime,
        rows: invoiceView.rows,
        aggregates: invoiceAggregates,
      }).changelogs.size,
    ).toBe(0)
  })
})

describe('defineChangelogView()', () => {
  it('is a view of one changelog; a record of another topic is an invalid event', () => {
    const view = defineChangelogView({ name: 'flink', topic: 'out', figures: { n: { column: 'cnt' } } })
    expect(view.name).toBe('flink')
    expect([...view.changelogs.keys()]).toEqual(['out'])
    expect(code(() => view.eventTime({}))).toBe('E_STREAM_INVALID_EVENT')
    expect(
      code(() => defineChangelogView({ name: 'bad name', topic: 'out', figures: { n: { column: 'c' } } })),
    ).toBe('E_STREAM_INVALID_OPTION')
    expect(
      code(() =>
        defineChangelogView({ name: 'v', topic: 'out', figures: { n: { column: 'c' } }, extra: 1 } as never),
      ),
    ).toBe('E_STREAM_INVALID_OPTION')
  })
})
