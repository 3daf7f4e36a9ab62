/**
 * Decorated repositories on two instances sharing Redis (legacy decorators, as NestJS compiles
 * them): a write through one instance invalidates the other's L1 after the write committed.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { type Cache, Cacheable, CacheInvalidate } from '../../../../src/index.js'
import { eventually, Fixture } from '../../../helpers/fixture.js'

interface Invoice {
  id: number
  total: number
}

/** The "database", shared by both instances. */
const table = new Map<number, Invoice>()

class InvoiceRepository {
  reads = 0
  constructor(readonly cache: Cache) {}

  @Cacheable({
    key: (id: number) => `invoice:${id}`,
    tags: (id: number) => [`invoice:${id}`],
    cache: 'cache',
  })
  async findById(id: number): Promise<Invoice | undefined> {
    this.reads++
    return table.get(id)
  }

  @CacheInvalidate({ tags: (id: number) => [`invoice:${id}`], cache: 'cache' })
  async setTotal(id: number, total: number): Promise<void> {
    table.set(id, { id, total })
  }
}

describe('decorators on instances sharing Redis', () => {
  const fx = new Fixture()
  afterEach(() => fx.closeCaches())
  afterAll(() => fx.dispose())

  it('a write through A is visible through B once committed, with one database read per change', async () => {
    const ns = fx.namespace()
    const a = new InvoiceRepository(fx.cache({ namespace: ns }))
    const b = new InvoiceRepository(fx.cache({ namespace: ns, l1Ttl: '1h', tagTrust: '1h' }))
    expect(await eventually(() => a.cache.busConnected && b.cache.busConnected)).toBe(true)
    table.set(42, { id: 42, total: 100 })
    expect(await a.findById(42)).toEqual({ id: 42, total: 100 })
    expect(await b.findById(42)).toEqual({ id: 42, total: 100 }) // from L2, no database read
    expect(await b.findById(42)).toEqual({ id: 42, total: 100 }) // from L1
    expect(a.reads + b.reads).toBe(1)
    await a.setTotal(42, 150)
    expect(await eventually(async () => (await b.findById(42))?.total === 150)).toBe(true)
    expect(await a.findById(42)).toEqual({ id: 42, total: 150 })
    expect(a.reads + b.reads).toBe(2)
  })
})
