/**
 * Type tests: decorator keys and tags are checked against the decorated method's parameters, and
 * the options reject what they should. Type-checked twice: by vitest (standard decorators) and by
 * `tsc -p test/unit/decorators/legacy/tsconfig.json` (legacy decorators, as NestJS compiles them).
 */
import { describe, expectTypeOf, it } from 'vitest'
import {
  type Cache,
  Cacheable,
  CacheInvalidate,
  CachePut,
  createCache,
  type GetOrSetOptions,
  type PeerAcknowledgement,
  type SetOptions,
} from '../../src/index.js'

interface Invoice {
  id: number
}

export class Repo {
  constructor(readonly cache: Cache) {}

  @Cacheable({
    key: (id: number) => `invoice:${id}`,
    tags: (id: number) => [`invoice:${id}`],
    ttl: '10m',
    cache: 'cache',
  })
  async find(id: number): Promise<Invoice> {
    return { id }
  }

  @Cacheable({ key: (id: number, _region: string) => `invoice:${id}`, cache: 'cache' })
  async findIn(id: number, region: string): Promise<string> {
    return `${id}${region}`
  }

  @Cacheable({ key: 'all', cache: (self: Repo) => self.cache })
  async all(): Promise<Invoice[]> {
    return []
  }

  // @ts-expect-error the key takes a number, the method a string
  @Cacheable({ key: (id: number) => `invoice:${id}` })
  async wrongKey(id: string): Promise<string> {
    return id
  }

  // @ts-expect-error the tags take a string, the method a number
  @Cacheable({ key: (id: number) => `invoice:${id}`, tags: (id: string) => [id] })
  async wrongTags(id: number): Promise<number> {
    return id
  }

  // @ts-expect-error only async methods can be cached
  @Cacheable({ key: 'sync' })
  sync(): number {
    return 1
  }

  @CacheInvalidate({ tags: (invoice: Invoice) => [`invoice:${invoice.id}`] })
  async update(invoice: Invoice): Promise<void> {
    void invoice
  }

  // @ts-expect-error the tags take an Invoice, the method a number
  @CacheInvalidate({ tags: (invoice: Invoice) => [`invoice:${invoice.id}`] })
  async remove(id: number): Promise<void> {
    void id
  }

  @CachePut({ key: (invoice: Invoice) => `invoice:${invoice.id}` })
  async save(invoice: Invoice): Promise<Invoice> {
    return invoice
  }
}

describe('option and method types', () => {
  it('durations are typed', () => {
    createCache({ ttl: '10m', l1Ttl: 500, grace: false, negativeTtl: '5s' })
    // @ts-expect-error a unit is required
    createCache({ ttl: '10' })
    // @ts-expect-error not a duration unit
    createCache({ ttl: '10 minutes' })
    // @ts-expect-error redis is a URL, Redis or Cluster
    createCache({ redis: 6379 })
    // @ts-expect-error unknown option
    createCache({ tll: '1m' })
    const options: SetOptions = { ttl: process.env.TTL as '1m' | undefined, tags: ['a'] }
    expectTypeOf(options.tags).toEqualTypeOf<readonly string[] | undefined>()
  })

  it('refresh and bypass are read options of getOrSet and getOrSetMany, not of set', () => {
    const cache = createCache()
    const read: GetOrSetOptions = { refresh: process.env.REFRESH === '1' ? true : undefined, tags: ['a'] }
    cache.getOrSet('k', () => 1, read)
    cache.getOrSet('k', () => 1, { bypass: true })
    cache.getOrSetMany(['k'], () => [1], { refresh: true, tags: (key) => [key] })
    // @ts-expect-error set always writes: no read options
    cache.set('k', 1, { refresh: true })
  })

  it('reads are typed', () => {
    const cache = createCache()
    expectTypeOf(cache.get<Invoice>('k')).resolves.toEqualTypeOf<Invoice | undefined>()
    expectTypeOf(cache.getOrSet('k', async () => ({ id: 1 }))).resolves.toEqualTypeOf<{ id: number }>()
    expectTypeOf(cache.getMany<Invoice>(['a'])).resolves.toEqualTypeOf<Array<Invoice | undefined>>()
    expectTypeOf(cache.getOrSetMany(['a'], async (keys) => keys.map((k) => k.length))).resolves.toEqualTypeOf<
      number[]
    >()
  })

  it('an invalidation that awaits its peers resolves with their acknowledgement, else with nothing', () => {
    const cache = createCache()
    expectTypeOf(
      cache.invalidateTags(['t'], { awaitPeers: true }),
    ).resolves.toEqualTypeOf<PeerAcknowledgement>()
    expectTypeOf(
      cache.delete('k', { awaitPeers: true, peerAckTimeout: '1s' }),
    ).resolves.toEqualTypeOf<PeerAcknowledgement>()
    expectTypeOf(cache.expire(['k'], { awaitPeers: true })).resolves.toEqualTypeOf<PeerAcknowledgement>()
    expectTypeOf(cache.expireTags(['t'], { awaitPeers: true })).resolves.toEqualTypeOf<PeerAcknowledgement>()
    expectTypeOf(cache.clear({ awaitPeers: true })).resolves.toEqualTypeOf<PeerAcknowledgement>()
    expectTypeOf(cache.invalidateTags(['t'])).resolves.toEqualTypeOf<void>()
    expectTypeOf(cache.delete('k', { onL2Unavailable: 'reject' })).resolves.toEqualTypeOf<void>()
    // Still assignable where a Promise<void> invalidation is expected.
    const drop: (tags: readonly string[]) => Promise<void> = (tags) => cache.invalidateTags(tags)
    expectTypeOf(drop).toBeFunction()
  })
})
