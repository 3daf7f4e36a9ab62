/**
 * The decorators as NestJS uses them: legacy decorators (`experimentalDecorators`, see the
 * tsconfig.json beside this file), on plain classes, with the cache found per instance.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  bindCache,
  CACHE,
  type Cache,
  Cacheable,
  CacheError,
  CacheInvalidate,
  CachePut,
  createCache,
  setDefaultCache,
} from '../../../../src/index.js'

interface Invoice {
  id: number
  clientId: number
  total: number
}

class InvoiceRepository {
  readonly rows = new Map<number, Invoice>([
    [1, { id: 1, clientId: 7, total: 100 }],
    [2, { id: 2, clientId: 7, total: 200 }],
  ])
  reads = 0

  constructor(readonly cache: Cache) {}

  @Cacheable({
    key: (id: number) => `invoice:${id}`,
    tags: (id: number) => [`invoice:${id}`],
    ttl: '10m',
    cache: (self: InvoiceRepository) => self.cache,
  })
  async findById(id: number): Promise<Invoice | undefined> {
    this.reads++
    return this.rows.get(id)
  }

  @Cacheable({
    key: (clientId: number) => `client:${clientId}:invoices`,
    tags: (clientId: number) => [`client:${clientId}`],
    cache: 'cache',
  })
  async listByClient(clientId: number): Promise<Invoice[]> {
    this.reads++
    return [...this.rows.values()].filter((i) => i.clientId === clientId)
  }

  @CacheInvalidate({
    tags: (id: number, _total: number, clientId: number) => [`invoice:${id}`, `client:${clientId}`],
    cache: 'cache',
  })
  async updateTotal(id: number, total: number, _clientId: number): Promise<void> {
    const row = this.rows.get(id)
    if (!row) throw new Error('not found')
    this.rows.set(id, { ...row, total })
  }

  @CachePut({
    key: (invoice: Invoice) => `invoice:${invoice.id}`,
    tags: (invoice: Invoice) => [`invoice:${invoice.id}`],
    cache: 'cache',
  })
  async save(invoice: Invoice): Promise<Invoice> {
    this.rows.set(invoice.id, invoice)
    return invoice
  }
}

class BoundService {
  calls = 0
  @Cacheable({ key: 'static-key' })
  async load(): Promise<number> {
    return ++this.calls
  }
}

describe('decorators (legacy, experimentalDecorators)', () => {
  afterEach(() => setDefaultCache(undefined))

  it('@Cacheable caches by the key built from the arguments', async () => {
    const repo = new InvoiceRepository(createCache())
    expect(await repo.findById(1)).toEqual({ id: 1, clientId: 7, total: 100 })
    expect(await repo.findById(1)).toEqual({ id: 1, clientId: 7, total: 100 })
    expect(await repo.findById(2)).toEqual({ id: 2, clientId: 7, total: 200 })
    expect(repo.reads).toBe(2)
    expect(await repo.cache.get('invoice:1')).toEqual({ id: 1, clientId: 7, total: 100 })
  })

  it('@CacheInvalidate invalidates the tags after the method resolved, not when it throws', async () => {
    const repo = new InvoiceRepository(createCache())
    await repo.findById(1)
    await repo.listByClient(7)
    await expect(repo.updateTotal(99, 1, 7)).rejects.toThrow('not found')
    expect(await repo.cache.get('invoice:1')).toBeDefined()
    await repo.updateTotal(1, 150, 7)
    expect(await repo.cache.get('invoice:1')).toBeUndefined()
    expect(await repo.cache.get('client:7:invoices')).toBeUndefined()
    expect((await repo.findById(1))?.total).toBe(150)
    expect((await repo.listByClient(7)).map((i) => i.total)).toEqual([150, 200])
  })

  it('@CacheInvalidate runs after the write commits: a read racing the write never caches the old row', async () => {
    const repo = new InvoiceRepository(createCache())
    const update = repo.updateTotal(2, 999, 7)
    const racing = repo.findById(2) // may read either row...
    await Promise.all([update, racing])
    expect((await repo.findById(2))?.total).toBe(999) // ...but the old one is not served afterwards
  })

  it('@CachePut stores the result', async () => {
    const repo = new InvoiceRepository(createCache())
    await repo.save({ id: 3, clientId: 8, total: 300 })
    expect(await repo.cache.get('invoice:3')).toEqual({ id: 3, clientId: 8, total: 300 })
    expect(await repo.findById(3)).toEqual({ id: 3, clientId: 8, total: 300 })
    expect(repo.reads).toBe(0)
  })

  it('finds the cache per instance: bindCache, a [CACHE] property, then the default', async () => {
    const a = bindCache(new BoundService(), createCache())
    const b = bindCache(new BoundService(), createCache())
    expect(await a.load()).toBe(1)
    expect(await a.load()).toBe(1)
    expect(await b.load()).toBe(1) // its own cache
    const c = new BoundService()
    await expect(c.load()).rejects.toMatchObject({ code: 'E_CACHE_NOT_BOUND' })
    setDefaultCache(createCache())
    expect(await c.load()).toBe(1)
    const d = Object.assign(new BoundService(), { [CACHE]: createCache() })
    expect(await d.load()).toBe(1)
  })

  it('rejects invalid options when the decorator is applied, naming the option', () => {
    const apply = (f: () => unknown) => {
      try {
        f()
      } catch (error) {
        return error
      }
      return undefined
    }
    const bad = apply(() => Cacheable({ key: 'k', ttl: '10 minutes' as never }))
    expect(bad).toBeInstanceOf(CacheError)
    expect((bad as CacheError).option).toBe('ttl')
    expect((apply(() => CacheInvalidate({})) as CacheError).option).toBe('tags')
    expect((apply(() => CacheInvalidate({ tags: ['t'], mode: 'soon' as never })) as CacheError).option).toBe(
      'mode',
    )
    expect((apply(() => Cacheable({ key: 5 as never })) as CacheError).option).toBe('key')
  })
})
