import type { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import {
  createDashboard,
  createMetricsConsumer,
  DEFAULT_METRICS_CONSUMER_OPTIONS,
  day,
  defineAggregates,
  defineView,
  MetricsStreamError,
  parseNotice,
  type Source,
  viewKeys,
} from '../../../src/index.js'
import { invoiceView } from '../../helpers/invoices.js'

interface Row {
  status: string
  at: number
}

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    if (error instanceof MetricsStreamError) return error.code
    throw error
  }
  return undefined
}

// A unit test may use a fake: nothing below talks to Redis or Kafka.
const fakeRedis = {} as Redis
const fakeSource = { topics: ['t'] } as unknown as Source

describe('defineAggregates / defineView', () => {
  it('freezes the definitions', () => {
    expect(Object.isFrozen(invoiceView)).toBe(true)
    expect(Object.isFrozen(invoiceView.aggregates)).toBe(true)
    expect(invoiceView.aggregates.byStatus.dimensions).toEqual(['status'])
    expect(invoiceView.aggregates.invoices.dimensions).toEqual([])
  })

  it('rejects invalid names, empty views and options with E_STREAM_INVALID_OPTION', () => {
    const build = defineAggregates<Row>()
    expect(code(() => build((a) => ({ 'bad name': a.count() })))).toBe('E_STREAM_INVALID_OPTION')
    expect(code(() => build((a) => ({ x: a.count({ retention: '7d' }) })))).toBe('E_STREAM_INVALID_OPTION')
    expect(
      code(() => build((a) => ({ x: a.count({ bucket: day((r) => r.at), retention: '7 days' as '7d' }) }))),
    ).toBe('E_STREAM_INVALID_OPTION')
    expect(code(() => build((a) => ({ x: a.count({ bucket: day((r) => r.at), readBuckets: 0 }) })))).toBe(
      'E_STREAM_INVALID_OPTION',
    )
    expect(code(() => build((a) => ({ x: a.top({ member: (r) => r.status, size: 0 }) })))).toBe(
      'E_STREAM_INVALID_OPTION',
    )
    const aggregates = build((a) => ({ n: a.count() }))
    expect(code(() => defineView<Row>({ name: 'a:b', eventTime: (r) => r.at, aggregates }))).toBe(
      'E_STREAM_INVALID_OPTION',
    )
    expect(code(() => defineView<Row>({ name: 'empty', eventTime: (r) => r.at, aggregates: {} }))).toBe(
      'E_STREAM_INVALID_OPTION',
    )
  })

  it('defaults rows to the event itself and decode to the identity', () => {
    const view = defineView<Row>({
      name: 'plain',
      eventTime: (r) => r.at,
      aggregates: defineAggregates<Row>()((a) => ({ n: a.count() })),
    })
    const row = { status: 'open', at: 1 }
    expect(view.rows(row)).toEqual({ add: row })
    expect(view.decode(row)).toBe(row)
  })
})

describe('consumer and dashboard options', () => {
  it('exposes frozen defaults', () => {
    expect(Object.isFrozen(DEFAULT_METRICS_CONSUMER_OPTIONS)).toBe(true)
    expect(DEFAULT_METRICS_CONSUMER_OPTIONS.chunkSize).toBe(500)
  })

  it('validates options once, at creation', () => {
    const base = { redis: fakeRedis, namespace: 'ns', view: invoiceView, source: fakeSource }
    expect(code(() => createMetricsConsumer({ ...base, chunkSize: 0 }))).toBe('E_STREAM_INVALID_OPTION')
    expect(code(() => createMetricsConsumer({ ...base, chunkSize: 10_000 }))).toBe('E_STREAM_INVALID_OPTION')
    expect(code(() => createMetricsConsumer({ ...base, allowedLateness: -1 }))).toBe(
      'E_STREAM_INVALID_OPTION',
    )
    expect(code(() => createMetricsConsumer({ ...base, namespace: 'a b' }))).toBe('E_STREAM_INVALID_OPTION')
    expect(code(() => createMetricsConsumer({ ...base, generation: 0 }))).toBe('E_STREAM_INVALID_OPTION')
    expect(
      code(() => createMetricsConsumer({ ...base, allowedLateness: '90m', scriptTimeout: 250 })),
    ).toBeUndefined()
    expect(code(() => createDashboard({ redis: fakeRedis, namespace: '{x}', view: invoiceView }))).toBe(
      'E_STREAM_INVALID_OPTION',
    )
  })
})

describe('viewKeys and notices', () => {
  it('puts every key of a view, all generations, under one hash tag', () => {
    const g1 = viewKeys('dash', 'invoices', 1)
    const g2 = viewKeys('dash', 'invoices', 2)
    for (const key of [
      g1.pointer,
      g1.meta,
      g1.partition('t', 3),
      g1.aggregate('n'),
      g2.aggregate('n', '2026-11-27'),
    ]) {
      expect(key.startsWith('{dash:invoices}:')).toBe(true)
    }
    expect(g1.pointer).toBe(g2.pointer)
    expect(g1.aggregate('n')).not.toBe(g2.aggregate('n'))
    expect(g1.channel).toBe('dash:invoices:changes')
  })

  it('parses change notices and ignores foreign messages', () => {
    expect(parseNotice('42 2 invoices 3 1200 1764000000000')).toEqual({
      version: 42,
      generation: 2,
      topic: 'invoices',
      partition: 3,
      offset: '1200',
      oldestEventAt: 1764000000000,
    })
    expect(parseNotice('hello')).toBeUndefined()
  })
})
