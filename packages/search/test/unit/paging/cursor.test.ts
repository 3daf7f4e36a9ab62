import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { SearchError } from '../../../src/index.js'
import { decodeCursor, encodeCursor } from '../../../src/paging/cursor.js'

/** A cursor of `payload` with a valid checksum: what only the field checks can refuse. */
function sealed(payload: unknown): string {
  const json = Buffer.from(JSON.stringify(payload))
  const out = Buffer.alloc(4 + json.length)
  out.writeUInt32BE(crc32(json), 0)
  json.copy(out, 4)
  return out.toString('base64url')
}

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
    [
      'without its checksum (version 1)',
      Buffer.from(JSON.stringify({ v: 1, i: 'x', p: 'y', a: [1], k: 1, s: 'z' })).toString('base64url'),
    ],
    ['of version 1, sealed', sealed({ v: 1, i: 'x', p: 'y', a: [1], k: 1, s: 'z' })],
    [
      'with one character changed',
      (() => {
        const c = encodeCursor(state)
        return `${c.slice(0, 10)}${c[10] === 'A' ? 'B' : 'A'}${c.slice(11)}`
      })(),
    ],
    ['with a character appended (dropped bits)', `${encodeCursor(state)}A`],
    ['truncated', encodeCursor(state).slice(0, -2)],
    [
      'not JSON',
      (() => {
        const body = Buffer.from('nope')
        const out = Buffer.alloc(4 + body.length)
        out.writeUInt32BE(crc32(body), 0)
        body.copy(out, 4)
        return out.toString('base64url')
      })(),
    ],
    ['other version', sealed({ v: 3, i: 'x', p: 'y', a: [1], k: 1, s: 'z' })],
    ['no pit', sealed({ v: 2, i: 'x', a: [1], k: 1, s: 'z' })],
    ['object in after', sealed({ v: 2, i: 'x', p: 'y', a: [{}], k: 1, s: 'z' })],
    ['bad keep-alive', sealed({ v: 2, i: 'x', p: 'y', a: [1], k: -1, s: 'z' })],
    ['too long', 'a'.repeat(20_000)],
    ['without request shape', sealed({ v: 2, i: 'x', p: 'y', a: [1], k: 1 })],
  ])('rejects a cursor that is %s', (_label, cursor) => {
    expect(() => decodeCursor(cursor)).toThrowError(SearchError)
    try {
      decodeCursor(cursor)
    } catch (error) {
      expect((error as SearchError).code).toBe('E_SEARCH_INVALID_CURSOR')
    }
  })
})
