import { describe, expect, it } from 'vitest'
import { classifyIndexItem } from '../../../src/index.js'

describe('classifyIndexItem', () => {
  it('tells applied, stale, transient and permanent answers apart', () => {
    expect(classifyIndexItem('upsert', { status: 201 })).toEqual({ status: 'applied' })
    expect(
      classifyIndexItem('upsert', { status: 409, error: { type: 'version_conflict_engine_exception' } }),
    ).toEqual({ status: 'stale' })
    expect(classifyIndexItem('delete', { status: 404 })).toEqual({ status: 'stale' })
    const block = { status: 403, error: { type: 'cluster_block_exception', reason: 'index write (api)' } }
    expect(classifyIndexItem('upsert', block).status).toBe('retry')
    expect(classifyIndexItem('delete', block).status).toBe('retry')
    expect(
      classifyIndexItem('delete', { status: 404, error: { type: 'index_not_found_exception' } }).status,
    ).toBe('retry')
    expect(
      classifyIndexItem('upsert', { status: 429, error: { type: 'es_rejected_execution_exception' } }).status,
    ).toBe('retry')
    expect(
      classifyIndexItem('upsert', { status: 503, error: { type: 'unavailable_shards_exception' } }).status,
    ).toBe('retry')
    expect(classifyIndexItem('upsert', undefined).status).toBe('retry')
    const parse = classifyIndexItem('upsert', {
      status: 400,
      error: { type: 'document_parsing_exception', reason: 'failed to parse field [n]' },
    })
    expect(parse).toEqual({
      status: 'rejected',
      error: '400 document_parsing_exception: failed to parse field [n]',
    })
    expect(
      classifyIndexItem('upsert', { status: 400, error: { type: 'illegal_argument_exception' } }).status,
    ).toBe('rejected')
  })
})
