import { describe, expect, it } from 'vitest'
import { encodeEnvelope } from '../../../src/serialization/envelope.js'
import { msgpackCodec } from '../../../src/serialization/msgpack-codec.js'
import { completeRead, parseManyRead } from '../../../src/tiers/redis-replies.js'

const codec = msgpackCodec()
const entry = (tags: string[], versions: number[]) =>
  encodeEnvelope(codec, { createdAt: 1, freshUntil: 2, staleUntil: 3, tags, versions, value: { v: 1 } })
const v = (n: number) => Buffer.from(String(n))

describe('the multi-key read reply (one MGET, then one for unnamed header tags)', () => {
  it('takes the versions of requested tags from the first reply and lists the others once', () => {
    const a = entry(['t:a', 't:shared'], [0, 5, 7])
    const b = entry(['t:b', 't:shared'], [0, 6, 7])
    const plain = entry([], [0])
    // Entries a, missing, b, plain, foreign bytes; then the generation and the requested t:shared.
    const reply = [a, null, b, plain, Buffer.from('not an envelope'), v(3), v(7)]
    const partial = parseManyRead(reply, 5, ['t:shared'])
    expect(partial.result.generation).toBe(3)
    expect(partial.result.requested).toEqual([7])
    expect(partial.missing).toEqual(['t:a', 't:b'])
    expect(partial.result.entries.map((e) => e.bytes)).toEqual([a, null, b, plain, reply[4]])
    expect(partial.result.entries[2]?.versions[1]).toBe(7)
    const done = completeRead(partial, [v(5), null])
    expect(done.entries.map((e) => e.versions)).toEqual([[5, 7], [], [0, 7], [], []])
  })

  it('needs no second read when every header tag was requested or there are none', () => {
    const a = entry(['t:x'], [0, 2])
    const partial = parseManyRead([a, null, v(2)], 1, ['t:x'])
    expect(partial.missing).toEqual([])
    expect(partial.result.entries[0]?.versions).toEqual([2])
    expect(parseManyRead([null, null], 1, []).missing).toEqual([])
    expect(parseManyRead([null, null], 1, []).result.generation).toBe(0)
  })
})
