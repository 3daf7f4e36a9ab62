/**
 * The bulk indexer's options in the one vocabulary (issue 15): `batchSize` (the starting size),
 * `retryDelay` and `maxRetryDelay`, with `initialBatchSize`, `initialBackoff` and `maxBackoff` as
 * deprecated aliases: the same resolved value, one `DeprecationWarning` per process each
 * (`AYALA_SEARCH_<OLD>`), both names given is `E_SEARCH_INVALID_OPTION`. A fake client records
 * the requests (no network).
 */
import { describe, expect, it } from 'vitest'
import { resolveBulkOptions } from '../../../src/bulk/bulk-options.js'
import { bulkIndex } from '../../../src/index.js'
import { deprecations, refusal } from '../../helpers/options.js'

const base = { index: 'x', idOf: (doc: { id: string }) => doc.id }

/** A client whose bulk requests succeed; `sizes` records the documents of each request. */
function fakeClient(): { client: never; sizes: number[] } {
  const sizes: number[] = []
  const client = {
    transport: {
      request: async (params: { bulkBody: string }) => {
        const lines = params.bulkBody.split('\n').filter(Boolean).length / 2
        sizes.push(lines)
        return { errors: false, items: Array.from({ length: lines }, () => ({ index: { status: 201 } })) }
      },
    },
    indices: { refresh: async () => ({}) },
  }
  return { client: client as never, sizes }
}

const docs = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `d${i}` }))

describe('bulk options', () => {
  it('batchSize is the size of the first request', async () => {
    const { client, sizes } = fakeClient()
    await bulkIndex(client, docs(3), { ...base, batchSize: 2, concurrency: 1, refresh: false })
    expect(sizes[0]).toBe(2)
    expect(resolveBulkOptions(base)).toMatchObject({
      batchSize: 100,
      retryDelayMs: 100,
      maxRetryDelayMs: 10_000,
    })
  })

  it('the old names resolve to the same options, one warning per name and process', async () => {
    const codes = await deprecations(async () => {
      const old = resolveBulkOptions({
        ...base,
        initialBatchSize: 7,
        initialBackoff: '250ms',
        maxBackoff: '2s',
      })
      const renamed = resolveBulkOptions({ ...base, batchSize: 7, retryDelay: '250ms', maxRetryDelay: '2s' })
      expect(old).toEqual(renamed)
      expect(renamed).toMatchObject({ batchSize: 7, retryDelayMs: 250, maxRetryDelayMs: 2_000 })
      resolveBulkOptions({ ...base, initialBatchSize: 8, initialBackoff: 10, maxBackoff: 20 })
      const { client, sizes } = fakeClient()
      await bulkIndex(client, docs(3), { ...base, initialBatchSize: 2, concurrency: 1, refresh: false })
      expect(sizes[0]).toBe(2)
    })
    expect(codes.sort()).toEqual([
      'AYALA_SEARCH_INITIALBACKOFF',
      'AYALA_SEARCH_INITIALBATCHSIZE',
      'AYALA_SEARCH_MAXBACKOFF',
    ])
  })

  it('both names given is an error; a bad value is named as given', async () => {
    for (const [from, to, value] of [
      ['initialBatchSize', 'batchSize', 5],
      ['initialBackoff', 'retryDelay', '1s'],
      ['maxBackoff', 'maxRetryDelay', '1s'],
    ] as const) {
      const error = await refusal(() => resolveBulkOptions({ ...base, [from]: value, [to]: value }))
      expect(error?.code).toBe('E_SEARCH_INVALID_OPTION')
      expect(error?.message).toContain(`"${from}" is the deprecated name of "${to}"`)
    }
    expect(
      (await refusal(() => resolveBulkOptions({ ...base, retryDelay: '1 s' as never })))?.message,
    ).toContain('retryDelay must be a duration')
    expect(
      (await refusal(() => resolveBulkOptions({ ...base, batchSize: 30_000, maxBatchSize: 20_000 })))
        ?.message,
    ).toContain('batchSize must not exceed maxBatchSize')
  })
})
