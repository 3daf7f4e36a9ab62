import { describe, expect, it } from 'vitest'
import { decodeCursor, encodeCursor, queryFingerprint, queryShape, SearchError } from '../../src/index.js'

describe('cursors', () => {
  const state = {
    index: 'invoices',
    pit: 'abc==',
    after: ['2026-01-01', 'inv-1', 3, null],
    keepAliveMs: 60_000,
    shape: 'abc123',
  }

  it('round-trips and is base64url', () => {
    const cursor = encodeCursor(state)
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(decodeCursor(cursor)).toEqual(state)
  })

  it.each([
    ['empty', ''],
    ['not base64url', 'a+b/c='],
    ['not JSON', Buffer.from('nope').toString('base64url')],
    [
      'other version',
      Buffer.from(JSON.stringify({ v: 2, i: 'x', p: 'y', a: [1], k: 1 })).toString('base64url'),
    ],
    ['no pit', Buffer.from(JSON.stringify({ v: 1, i: 'x', a: [1], k: 1 })).toString('base64url')],
    [
      'object in after',
      Buffer.from(JSON.stringify({ v: 1, i: 'x', p: 'y', a: [{}], k: 1 })).toString('base64url'),
    ],
    [
      'bad keep-alive',
      Buffer.from(JSON.stringify({ v: 1, i: 'x', p: 'y', a: [1], k: -1 })).toString('base64url'),
    ],
    ['too long', 'a'.repeat(20_000)],
    [
      'without request shape',
      Buffer.from(JSON.stringify({ v: 1, i: 'x', p: 'y', a: [1], k: 1 })).toString('base64url'),
    ],
  ])('rejects a cursor that is %s', (_label, cursor) => {
    expect(() => decodeCursor(cursor)).toThrowError(SearchError)
    try {
      decodeCursor(cursor)
    } catch (error) {
      expect((error as SearchError).code).toBe('E_SEARCH_INVALID_CURSOR')
    }
  })
})

describe('query fingerprints', () => {
  it('ignore values and key order but not shape', () => {
    const a = { query: { match: { description: { query: 'servicio' } } }, size: 10 }
    const b = { size: 50, query: { match: { description: { query: 'licencia' } } } }
    const c = { query: { match: { clientName: { query: 'servicio' } } }, size: 10 }
    expect(queryFingerprint(a)).toBe(queryFingerprint(b))
    expect(queryFingerprint(a)).not.toBe(queryFingerprint(c))
    expect(queryShape(a)).not.toContain('servicio')
  })
})
