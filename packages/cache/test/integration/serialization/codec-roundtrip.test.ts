import { serviceUrls, uniqueName } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { msgpackCodec } from '../../../src/index.js'

describe('msgpack codec through real Redis', () => {
  const redis = new Redis(serviceUrls().redis)
  const prefix = uniqueName('cache')

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })

  it('round-trips Dates, Maps, Sets, BigInts and Buffers byte-exactly', async () => {
    const codec = msgpackCodec()
    const invoice = {
      id: 42,
      number: 'FAC-2026-000042',
      issuedAt: new Date('2026-11-27T10:00:00.000Z'),
      totalCents: 12_345_678_901_234n,
      lines: new Map([['sku-1', { qty: 2, priceCents: 1999 }]]),
      tags: new Set(['paid', 'eu']),
      pdf: Buffer.from([0, 1, 2, 255]),
      note: null,
    }
    const key = `${prefix}:invoice:42`
    await redis.set(key, codec.encode(invoice))
    const bytes = await redis.getBuffer(key)
    expect(bytes).not.toBeNull()
    expect(codec.decode(bytes as Buffer)).toEqual(invoice)
  })
})
