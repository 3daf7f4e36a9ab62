/** Envelope format and the msgpack codec's layouts (moved from internals.test.ts). */
import { crc32 } from 'node:zlib'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { CacheError } from '../../../src/errors.js'
import { decodeEnvelope, EnvelopeFormatError, encodeEnvelope } from '../../../src/serialization/envelope.js'
import {
  LAYOUT_NEGATIVE_ZEROS,
  LAYOUT_PLAIN,
  LAYOUT_RECORDS,
  msgpackCodec,
  needsRecords,
  negativeZeroPaths,
} from '../../../src/serialization/msgpack-codec.js'
import { HARD_STEP } from '../../../src/tags/tag-versions.js'

describe('envelope', () => {
  const codec = msgpackCodec()
  it('round-trips header, timestamps, versions and value', () => {
    const envelope = {
      createdAt: 1,
      freshUntil: 2,
      staleUntil: 3,
      tags: ['t:a', 't:ключ'],
      versions: [0, 5, HARD_STEP],
      value: { at: new Date(0), n: 10n },
    }
    const bytes = encodeEnvelope(codec, envelope)
    expect(bytes[0]).toBe(0xac)
    expect(bytes[1]).toBe(3)
    expect(decodeEnvelope(codec, bytes)).toEqual(envelope)
    expect(
      decodeEnvelope(codec, encodeEnvelope(codec, { ...envelope, value: undefined })).value,
    ).toBeUndefined()
  })

  /** `bytes` with a valid CRC-32 trailer: what the checksum cannot catch, the layout checks must. */
  const sealed = (bytes: number[]) => {
    const body = Buffer.from(bytes)
    const out = Buffer.alloc(body.length + 4)
    body.copy(out)
    out.writeUInt32BE(crc32(body), body.length)
    return out
  }

  it('rejects foreign, unknown-format, altered and truncated bytes', () => {
    expect(() => decodeEnvelope(codec, Buffer.from('hello'))).toThrow(EnvelopeFormatError)
    expect(() => decodeEnvelope(codec, Buffer.from([0xac, 4, 0, 0, 0]))).toThrow('unknown envelope format 4')
    // Format 2 (this layout without the checksum, earlier releases) is foreign now.
    expect(() => decodeEnvelope(codec, Buffer.from([0xac, 2, 0, 0, 0]))).toThrow('unknown envelope format 2')
    const good = encodeEnvelope(codec, {
      createdAt: 1,
      freshUntil: 2,
      staleUntil: 3,
      tags: ['t:a'],
      versions: [0, 1],
      value: -32769,
    })
    for (let i = 2; i < good.length; i++) {
      const flipped = Buffer.from(good)
      flipped[i] = (flipped[i] as number) ^ 1
      expect(() => decodeEnvelope(codec, flipped)).toThrow('checksum')
      expect(() => decodeEnvelope(codec, good.subarray(0, i))).toThrow(EnvelopeFormatError)
    }
    expect(() => decodeEnvelope(codec, sealed([0xac, 3, 0, 1, 0, 9, 1]))).toThrow('truncated')
    // A tag list that fits but no room for the fixed fields after it.
    expect(() => decodeEnvelope(codec, sealed([0xac, 3, 0, 0, 0, 0, 0]))).toThrow('truncated')
  })

  it('refuses a value holding a lone surrogate (UTF-8 would turn it into U+FFFD), not a real U+FFFD', () => {
    for (const value of [
      '\ud800',
      { 'k\udc00': 1 },
      [1, { a: 'x\udfffy' }],
      new Map([['\ud83d', 1]]),
      new Set(['\ud800']),
    ]) {
      expect(() => codec.encode(value)).toThrow(expect.objectContaining({ code: 'E_CACHE_SERIALIZATION' }))
    }
    for (const value of ['\ufffd', { '\ufffd': '😀\ufffd' }, '\ud83d\ude00']) {
      expect(codec.decode(codec.encode(value))).toEqual(value)
    }
  })

  it('reads format 1 (the msgpack-array body of earlier releases) as an unknown format', () => {
    const v1 = new Packr({ moreTypes: true, useRecords: true, mapsAsObjects: false })
    const body = v1.pack([1, 2, 3, [0], 0, { invoice: 42 }])
    const bytes = Buffer.concat([Buffer.from([0xac, 1, 0, 0]), body])
    expect(() => decodeEnvelope(codec, bytes)).toThrow('unknown envelope format 1')
  })

  it('keeps -0 a -0 wherever it is (msgpack would read it back as 0), and plain zeros plain', () => {
    class Money {
      constructor(readonly cents: number) {}
    }
    const values: unknown[] = [
      -0,
      [1, -0, 0, [-0]],
      { total: -0, lines: [{ qty: 0, delta: -0 }], at: new Date(0) },
      new Map<unknown, unknown>([
        ['a', -0],
        [{ key: 1 }, { deep: [-0] }],
      ]),
      // A Map before the -0: the layout's walk stops at the Map, the paths' walk does not.
      { m: new Map([['x', 1]]), after: -0 },
      { money: new Money(-0) },
    ]
    for (const value of values) {
      const bytes = codec.encode(value)
      expect(bytes[0]).toBe(LAYOUT_NEGATIVE_ZEROS)
      const back = codec.decode(bytes)
      // toEqual tells -0 from 0 (Object.is), Money comes back as a plain object (records layout).
      expect(back).toEqual(value instanceof Object && 'money' in value ? { money: { cents: -0 } } : value)
      expect(negativeZeroPaths(back)).toEqual(negativeZeroPaths(value))
    }
    expect(Object.is(codec.decode(codec.encode(-0)), -0)).toBe(true)
    expect(negativeZeroPaths({ a: [0, -0], b: { c: -0 } })).toEqual([
      ['a', 1],
      ['b', 'c'],
    ])
    // No -0 (0, a Set, whose items compare with SameValueZero, a typed array, which keeps its
    // bytes): the layout of before, byte for byte.
    for (const value of [0, [0, 1.5], { n: 0 }, new Set([-0]), new Float64Array([-0])]) {
      const bytes = codec.encode(value)
      expect(bytes[0]).toBe(LAYOUT_PLAIN)
    }
    expect(Object.is((codec.decode(codec.encode(new Float64Array([-0]))) as Float64Array)[0], -0)).toBe(true)
    expect(codec.encode(new Map([['k', 0]]))[0]).toBe(LAYOUT_RECORDS)
    // A cycle is still refused (the paths' walk stops at an ancestor; the encoder refuses the cycle).
    const cyclic: Record<string, unknown> = { zero: -0 }
    cyclic.self = cyclic
    cyclic.again = cyclic
    expect(() => codec.encode(cyclic)).toThrow(CacheError)
    expect(() => codec.decode(Buffer.from([LAYOUT_NEGATIVE_ZEROS, 0x91, 0x00]))).toThrow(CacheError)
  })

  it('puts a -0 back only where it wrote one: never through a prototype, never over another value', () => {
    const records = new Packr({ moreTypes: true, useRecords: true, mapsAsObjects: false })
    const forged = (pair: unknown) =>
      Buffer.concat([Buffer.from([LAYOUT_NEGATIVE_ZEROS]), records.pack(pair)])
    const before = { toString: Object.prototype.toString, push: Array.prototype.push }
    for (const pair of [
      [{}, [['__proto__', 'toString']]],
      [[], [['__proto__', 'push']]],
      [{ a: {} }, [['a', 'constructor', 'prototype', 'x']]],
      [{ a: 1 }, [['a']]],
      [{ a: 'x' }, [['a', 'length']]],
      [{ a: 0 }, [['b']]],
      [new Map([['k', 1]]), [[0]]],
      [new Map([['k', 0]]), [[5]]],
      [7, [[]]],
      [{ a: 0 }, ['a']],
    ]) {
      expect(() => codec.decode(forged(pair)), JSON.stringify(pair[1])).toThrow(CacheError)
    }
    expect(Object.prototype.toString).toBe(before.toString)
    expect(Array.prototype.push).toBe(before.push)
    // A __proto__ key (JSON.parse makes one) is not a path: msgpackr renames it on the way back.
    const parsed = JSON.parse('{"__proto__":{"toString":-0},"n":-0}') as Record<string, unknown>
    const back = codec.decode(codec.encode(parsed)) as Record<string, unknown>
    expect(Object.is(back.n, -0)).toBe(true)
    expect(Object.prototype.toString).toBe(before.toString)
    // Values msgpackr writes in another form are not walked: toJSON, Map subclasses.
    class Price {
      constructor(readonly cents: number) {}
      toJSON() {
        return this.cents.toFixed(2)
      }
    }
    class Lines extends Map<string, number> {}
    expect(codec.decode(codec.encode({ price: new Price(-0), zero: -0 }))).toEqual({
      price: '0.00',
      zero: -0,
    })
    expect(negativeZeroPaths({ lines: new Lines([['a', -0]]) })).toEqual([])
    // Many -0 in one Map, each restored (the decoder builds the Map's key list once).
    const many = new Map(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, -0] as [string, number]))
    const decoded = codec.decode(codec.encode(many)) as Map<string, number>
    expect(decoded.size).toBe(50_000)
    expect([...decoded.values()].every((v) => Object.is(v, -0))).toBe(true)
  })

  it('keeps plain data in the plain layout and anything with a Map in the records layout', () => {
    const plainValues: unknown[] = [
      null,
      7,
      'text',
      [1, 'a', { b: [new Date(0)] }],
      { at: new Date(5), n: 10n, big: 2n ** 70n, tags: new Set(['a', { x: 1 }]), pdf: Buffer.from([1, 2]) },
      Object.assign(Object.create(null), { nullProto: true }),
      { re: /ab+c/gi, bytes: new Uint16Array([1, 2, 3]) },
    ]
    for (const value of plainValues) {
      expect(needsRecords(value)).toBe(false)
      const bytes = codec.encode(value)
      expect(bytes[0]).toBe(LAYOUT_PLAIN)
      expect(codec.decode(bytes)).toEqual(value)
    }
    class Money {
      constructor(readonly cents: number) {}
    }
    const recordValues: unknown[] = [
      new Map([['k', 1]]),
      { deep: [{ lines: new Map<unknown, unknown>([[1, { qty: 2 }]]) }] },
      new Set([new Map([['in', 'set']])]),
      { empty: new Map(), obj: {} },
      { money: new Money(5) },
      new Error('boom'),
    ]
    for (const value of recordValues) {
      expect(needsRecords(value)).toBe(true)
      const bytes = codec.encode(value)
      expect(bytes[0]).toBe(LAYOUT_RECORDS)
    }
    for (const value of recordValues.slice(0, 4)) expect(codec.decode(codec.encode(value))).toEqual(value)
    const decoded = codec.decode(codec.encode({ m: new Map([['a', { b: 1 }]]), o: { c: new Map() } })) as {
      m: unknown
      o: { c: unknown }
    }
    expect(decoded.m).toBeInstanceOf(Map)
    expect(Object.getPrototypeOf(decoded.o)).toBe(Object.prototype)
    expect(decoded.o.c).toBeInstanceOf(Map)
    expect(() => codec.decode(Buffer.from([9, 0xc0]))).toThrow(CacheError)
  })
})
