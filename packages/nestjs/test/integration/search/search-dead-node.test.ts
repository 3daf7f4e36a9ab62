/**
 * `SearchHealthIndicator.check` with a client of two nodes, one of which goes silent (a loopback
 * proxy that accepts and never answers): once a read's budget ended on it and the client's pool
 * counts it dead, the check is up with `state: 'degraded'` and the node in `deadNodes`; up and
 * plain again once the link is back and the pool has seen the node answer. Real OpenSearch.
 */
import 'reflect-metadata'
import { createSearchClient, defineIndex, field, type SearchClient } from '@ayala/search'
import { serviceUrls, startTcpProxy, type TcpProxy, uniqueName } from '@ayala/testkit'
import { HealthIndicatorService } from '@nestjs/terminus'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SearchHealthIndicator } from '../../../src/health/index.js'

const services = serviceUrls()
const docs = defineIndex({
  name: uniqueName('nest-dead-node'),
  id: 'id',
  fields: { id: field.keyword(), text: field.text() },
})

describe('SearchHealthIndicator and a silent node', () => {
  let live: TcpProxy
  let silent: TcpProxy
  let search: SearchClient
  const indicator = new SearchHealthIndicator(new HealthIndicatorService())

  beforeAll(async () => {
    const port = Number(new URL(services.opensearch).port)
    live = await startTcpProxy({ targetPort: port })
    silent = await startTcpProxy({ targetPort: port })
    search = createSearchClient({
      node: [`http://127.0.0.1:${live.port}`, `http://127.0.0.1:${silent.port}`],
      engine: 'opensearch',
      searchTimeout: '400ms',
      breakerThreshold: 1_000,
    })
    await search.createIndex(docs)
    await search.bulk(docs, [{ id: '1', text: 'ascensor' }], { refresh: true })
  })

  afterAll(async () => {
    silent?.restore()
    await search?.deleteIndex(docs.name).catch(() => undefined)
    await search?.close()
    await live?.close()
    await silent?.close()
  })

  it('is degraded naming the dead node while the pool counts it out, plain up once it answers', async () => {
    const before = await indicator.check('search', { client: search, timeout: '10s' })
    expect(before.search).toMatchObject({ status: 'up', clusterStatus: expect.any(String) })
    expect(before.search).not.toHaveProperty('state')

    silent.blackhole()
    let failures = 0
    for (let i = 0; i < 20; i++) {
      await search.search(docs, {}).catch(() => failures++)
    }
    expect(failures).toBeGreaterThanOrEqual(1)
    expect(failures).toBeLessThanOrEqual(3)
    const during = await indicator.check('search', { client: search, timeout: '10s' })
    expect(during.search).toMatchObject({
      status: 'up',
      state: 'degraded',
      deadNodes: [`http://127.0.0.1:${silent.port}`],
      reasons: [`the client's pool counts 1 node(s) dead: http://127.0.0.1:${silent.port}`],
    })

    silent.restore()
    for (let round = 0; round < 30; round++) {
      if ((await search.health({ timeout: '10s' })).nodes?.every((n) => n.alive)) break
      for (let i = 0; i < 100; i++) await search.search(docs, {})
    }
    const after = await indicator.check('search', { client: search, timeout: '10s' })
    expect(after.search).toMatchObject({ status: 'up' })
    expect(after.search).not.toHaveProperty('state')
    expect(after.search).not.toHaveProperty('deadNodes')
  })
})
