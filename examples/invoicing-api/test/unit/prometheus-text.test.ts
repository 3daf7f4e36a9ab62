import { describe, expect, it } from 'vitest'
import { parsePrometheusText } from '../../src/cli/prometheus-text.ts'

describe('parsePrometheusText', () => {
  it('reads names, labels (escaped quotes included) and values', () => {
    const samples = parsePrometheusText(
      [
        '# HELP http_requests Requests.',
        '# TYPE http_requests counter',
        'http_requests{route="/invoices/:id",note="a \\"b\\""} 3',
        'up 1 1700000000000',
        'latency_bucket{le="+Inf"} +Inf',
        '',
      ].join('\n'),
    )
    expect(samples).toEqual([
      { name: 'http_requests', labels: { route: '/invoices/:id', note: 'a "b"' }, value: 3 },
      { name: 'up', labels: {}, value: 1 },
      { name: 'latency_bucket', labels: { le: '+Inf' }, value: Number.POSITIVE_INFINITY },
    ])
  })

  it('throws on a malformed line', () => {
    expect(() => parsePrometheusText('not a sample line at all {')).toThrow(/cannot parse/)
    expect(() => parsePrometheusText('x{route=unquoted} 1')).toThrow(/bad labels/)
  })
})
