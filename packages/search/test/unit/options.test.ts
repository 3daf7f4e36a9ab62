import { describe, expect, it } from 'vitest'
import {
  bulkIndex,
  createOutbox,
  createSearchClient,
  DEFAULT_BULK_OPTIONS,
  DEFAULT_SEARCH_CLIENT_OPTIONS,
  keysetReader,
} from '../../src/index.js'

describe('option validation', () => {
  it('resolves client options once into a frozen object', () => {
    const client = createSearchClient({
      node: 'http://127.0.0.1:1',
      engine: 'opensearch',
      requestTimeout: '2s',
    })
    expect(Object.isFrozen(client.options)).toBe(true)
    expect(client.options).toMatchObject({
      engine: 'opensearch',
      requestTimeoutMs: 2_000,
      maxRetries: 3,
      slowQueryMs: 500,
    })
    expect(Object.isFrozen(DEFAULT_SEARCH_CLIENT_OPTIONS)).toBe(true)
    expect(Object.isFrozen(DEFAULT_BULK_OPTIONS)).toBe(true)
  })

  it('rejects bad client options with E_SEARCH_INVALID_OPTION', () => {
    expect(() => createSearchClient({ node: 'localhost:9200' })).toThrowError(/node/)
    expect(() => createSearchClient({ node: 'http://x', engine: 'solr' as never })).toThrowError(/engine/)
    expect(() => createSearchClient({ node: 'http://x', maxRetries: -1 })).toThrowError(/maxRetries/)
  })

  it('rejects bad bulk options before reading the source', async () => {
    let read = 0
    const source = (function* () {
      read++
      yield { id: 'a' }
    })()
    await expect(
      bulkIndex({} as never, source, { index: 'x', idOf: (d) => d.id, concurrency: 0 }),
    ).rejects.toMatchObject({ code: 'E_SEARCH_INVALID_OPTION' })
    await expect(
      bulkIndex({} as never, source, {
        index: 'x',
        idOf: (d) => d.id,
        initialBatchSize: 10,
        maxBatchSize: 5,
      }),
    ).rejects.toMatchObject({ code: 'E_SEARCH_INVALID_OPTION' })
    expect(read).toBe(0)
  })

  it('refuses SQL identifiers that are not plain names', async () => {
    expect(() => createOutbox({ table: 'outbox; DROP TABLE x' })).toThrowError(/table/)
    const reader = keysetReader({ query: async () => [], table: 'invoices`', key: 'id' })
    await expect(reader.next()).rejects.toMatchObject({ code: 'E_SEARCH_INVALID_OPTION' })
  })

  it('pages a keyset source until a short page', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => ({ id: i + 1 }))
    const calls: Array<number | undefined> = []
    const reader = keysetReader({
      pageSize: 10,
      fetchPage: async (after: number | undefined, limit) => {
        calls.push(after)
        return rows.filter((r) => r.id > (after ?? 0)).slice(0, limit)
      },
      keyOf: (row) => row.id,
    })
    const seen: number[] = []
    for await (const row of reader) seen.push(row.id)
    expect(seen).toEqual(rows.map((r) => r.id))
    expect(calls).toEqual([undefined, 10, 20])
  })
})
