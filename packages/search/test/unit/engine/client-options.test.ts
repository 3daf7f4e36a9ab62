/**
 * The client's `retries` (issue 15: one option vocabulary) and its deprecated alias
 * `maxRetries`: the same value, one `DeprecationWarning` per process (`AYALA_SEARCH_MAXRETRIES`),
 * both names given is `E_SEARCH_INVALID_OPTION`, a bad value is named as given.
 */
import { describe, expect, it } from 'vitest'
import { createSearchClient } from '../../../src/index.js'
import { deprecations, refusal } from '../../helpers/options.js'

const node = 'http://127.0.0.1:1'

describe('client option retries', () => {
  it('is read under its new name, with no warning', async () => {
    const codes = await deprecations(() => {
      const client = createSearchClient({ node, retries: 1 })
      expect(client.options.retries).toBe(1)
      expect(client.options.maxRetries).toBe(1)
    })
    expect(codes).toEqual([])
    expect(createSearchClient({ node }).options.retries).toBe(3)
  })

  it('maxRetries gives the same resolved options, with one warning per process', async () => {
    const codes = await deprecations(() => {
      const old = createSearchClient({ node, maxRetries: 0 })
      const renamed = createSearchClient({ node, retries: 0 })
      expect(old.options).toEqual(renamed.options)
      expect(old.options.retries).toBe(0)
      createSearchClient({ node, maxRetries: 2 })
    })
    expect(codes).toEqual(['AYALA_SEARCH_MAXRETRIES'])
  })

  it('both names given is an error; a bad value is named as given', async () => {
    const both = await refusal(() => createSearchClient({ node, retries: 1, maxRetries: 1 }))
    expect(both?.code).toBe('E_SEARCH_INVALID_OPTION')
    expect(both?.message).toContain('"maxRetries" is the deprecated name of "retries"')
    expect((await refusal(() => createSearchClient({ node, retries: -1 })))?.message).toContain(
      'retries must be a non-negative integer',
    )
  })
})
