import { defineIndex, field, type Hit } from '@ayala/search'
import { describe, expectTypeOf, it } from 'vitest'
import { runWithCacheMode } from '../../src/index.js'
import type { SearchRepositoryOf } from '../../src/search/index.js'

const invoices = defineIndex({
  name: 'invoices',
  id: 'id',
  fields: { id: field.keyword(), client: field.keyword(), total: field.integer() },
})

describe('types', () => {
  it('runWithCacheMode returns what the function returns', () => {
    expectTypeOf(runWithCacheMode('bypass', () => 42)).toEqualTypeOf<number>()
    expectTypeOf(runWithCacheMode('refresh', async () => 'x')).toEqualTypeOf<Promise<string>>()
    // @ts-expect-error not a cache mode
    runWithCacheMode('sometimes', () => 1)
  })

  it('a search repository is typed by its index definition', () => {
    const repository = {} as SearchRepositoryOf<typeof invoices>
    type Found = Awaited<ReturnType<typeof repository.search>>['hits'][number]
    expectTypeOf<Found>().toMatchTypeOf<Hit<{ id: string; client: string; total: number }>>()
    // @ts-expect-error term() takes only term fields with values of their type
    repository.q.term('nope', 'x')
  })
})
