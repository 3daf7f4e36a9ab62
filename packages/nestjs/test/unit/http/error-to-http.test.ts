/**
 * `ayalaErrorToHttp`: every package's typed errors, built with the real classes. Dependency
 * failures are 503 with `Retry-After` (the breaker's next probe when the error carries it), bad
 * input 400 with its message, the rest 500; no 5xx body carries the error's message (an address,
 * a user) or a stack; anything that is not an SDK error is left to Nest.
 */
import { CacheError, L2UnavailableError, LoaderTimeoutError } from '@ayala/cache'
import { MetricsStreamError, StreamUnavailableError } from '@ayala/metrics-stream'
import { OutboxError } from '@ayala/outbox'
import { SearchError, SearchUnavailableError } from '@ayala/search'
import { HttpException } from '@nestjs/common'
import { describe, expect, it } from 'vitest'
import { ayalaErrorToHttp } from '../../../src/index.js'

const SECRET = 'redis://alice:s3cr3t@10.0.0.7:6379'

describe('ayalaErrorToHttp', () => {
  const cases: Array<[string, Error, number, string | undefined]> = [
    [
      'cache L2 down',
      new L2UnavailableError('E_CACHE_L2_UNAVAILABLE', `Redis read failed: ${SECRET}`),
      503,
      '1',
    ],
    ['cache L2 timeout', new L2UnavailableError('E_CACHE_L2_TIMEOUT', `no answer from ${SECRET}`), 503, '1'],
    ['cache breaker', new L2UnavailableError('E_CACHE_CIRCUIT_OPEN', 'open'), 503, '1'],
    [
      'cache credentials refused',
      new L2UnavailableError(
        'E_CACHE_L2_AUTH',
        `Redis at ${SECRET} rejected the credentials of user "alice"`,
      ),
      503,
      '1',
    ],
    [
      'dashboard credentials refused',
      new MetricsStreamError('E_STREAM_REDIS_AUTH', `user "alice" refused by ${SECRET}`),
      503,
      '1',
    ],
    [
      'consumer SASL refused',
      new MetricsStreamError('E_STREAM_KAFKA_AUTH', `SASL refused ${SECRET}`),
      503,
      '1',
    ],
    ['cache loader timeout', new LoaderTimeoutError('k', 100), 503, '1'],
    ['cache closed', new CacheError('E_CACHE_CLOSED', 'closed'), 503, '1'],
    ['cache bug', new CacheError('E_CACHE_SERIALIZATION', `cannot store ${SECRET}`), 500, undefined],
    [
      'dashboard unavailable',
      new StreamUnavailableError(`Dashboard unavailable: ${SECRET}`, {
        view: 'v',
        reason: 'circuit-open',
        timeoutMs: 500,
        retryAfterMs: 1_700,
      }),
      503,
      '2',
    ],
    ['dashboard redis', new MetricsStreamError('E_STREAM_REDIS', SECRET, { retriable: true }), 503, '1'],
    [
      'dashboard bad range',
      new MetricsStreamError('E_STREAM_INVALID_READ', 'A read covers at most 1000 buckets'),
      400,
      undefined,
    ],
    [
      'outbox sql',
      new OutboxError('E_OUTBOX_SQL', `connect ETIMEDOUT ${SECRET}`, { retriable: true }),
      503,
      '1',
    ],
    ['outbox closed', new OutboxError('E_OUTBOX_CLOSED', 'stopped'), 503, '1'],
    ['outbox bad effect', new OutboxError('E_OUTBOX_INVALID_EFFECT', SECRET), 500, undefined],
    [
      'search unavailable',
      new SearchUnavailableError(`engine ${SECRET}`, {
        index: 'i',
        operation: 'search',
        budgetMs: 1_000,
        reason: 'circuit-open',
        retryAfterMs: 3_200,
      }),
      503,
      '4',
    ],
    [
      'search input',
      new SearchError('E_SEARCH_QUERY_TOO_LONG', 'query text over 256 characters'),
      400,
      undefined,
    ],
  ]

  for (const [what, error, status, retryAfter] of cases) {
    it(`${what}: ${status}`, () => {
      const answer = ayalaErrorToHttp(error)
      expect(answer?.status).toBe(status)
      expect(answer?.body.statusCode).toBe(status)
      expect(answer?.body.code).toBe((error as unknown as { code: string }).code)
      expect(answer?.headers['retry-after']).toBe(retryAfter)
      const body = JSON.stringify(answer?.body)
      expect(body).not.toContain('s3cr3t')
      expect(body).not.toContain('10.0.0.7')
      expect(body).not.toMatch(/\\n\s+at /)
      if (status === 400) expect(answer?.body.message).toBe(error.message)
      if (status === 503) expect(answer?.body.retriable).toBe(true)
    })
  }

  it('leaves everything else to Nest', () => {
    expect(ayalaErrorToHttp(new Error('E_CACHE_L2_UNAVAILABLE'))).toBeUndefined()
    expect(ayalaErrorToHttp(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBeUndefined()
    expect(ayalaErrorToHttp(new HttpException('nope', 418))).toBeUndefined()
    expect(ayalaErrorToHttp({ code: 'E_CACHE_CLOSED' })).toBeUndefined()
    expect(ayalaErrorToHttp('E_STREAM_REDIS')).toBeUndefined()
  })
})
