/**
 * Run by decorators-tc39.test.ts in a child process through tsx, whose esbuild lowers TC39
 * standard decorators (the package tsconfig has no `experimentalDecorators`). Prints the results.
 */
import { bindCache, Cacheable, CacheInvalidate, CachePut, createCache } from '../../src/index.js'

class Repo {
  reads = 0
  total = 100

  @Cacheable({ key: (id: number) => `invoice:${id}`, tags: (id: number) => [`invoice:${id}`] })
  async find(id: number): Promise<{ id: number; total: number }> {
    this.reads++
    return { id, total: this.total }
  }

  @CacheInvalidate({ tags: (id: number) => [`invoice:${id}`] })
  async update(_id: number, total: number): Promise<void> {
    this.total = total
  }

  @CachePut({ key: (id: number) => `invoice:${id}` })
  async refresh(id: number): Promise<{ id: number; total: number }> {
    return { id, total: this.total }
  }
}

const cache = createCache()
const repo = bindCache(new Repo(), cache)
const results: unknown[] = []
results.push(await repo.find(1), await repo.find(1), repo.reads)
await repo.update(1, 150)
results.push(await repo.find(1), repo.reads)
repo.total = 175
await repo.refresh(1)
results.push(await cache.get('invoice:1'))
process.stdout.write(`${JSON.stringify(results)}\n`)
await cache.close()
