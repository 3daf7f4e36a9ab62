/**
 * A node that accepts and never answers (a frozen JVM, a half-open link) among several: the reads
 * sent to it fail at their budget, and the node is marked dead in the client's connection pool,
 * so the next reads go to the nodes that answer. Before, the deadline's abort counted nothing
 * against the node (the transport marks a node on a timeout or a refused link, not on an abort):
 * with two nodes one read in two failed for as long as the node stayed silent.
 *
 * Two loopback proxies in front of the same engine node are the client's two nodes; one of them
 * blackholes (accepts, forwards nothing). Counted: reads that failed, reads over their budget,
 * the client's `silentNodes`, and what `health().nodes` says of each proxy. The same with a
 * borrowed official client (`createSearchClient({ client })`), whose transport is the
 * application's: the mark lands in the application's pool.
 */
import { startTcpProxy, type TcpProxy, uniqueName } from '@ayala/testkit'
import { Client } from '@elastic/elasticsearch'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSearchClient,
  type EngineKind,
  OpenSearchTransport,
  type SearchClient,
  SearchUnavailableError,
} from '../../../src/index.js'
import { clientFor, ENGINES, loadDocs } from '../../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../../helpers/invoices.js'

const BUDGET_MS = 400
const SLACK_MS = 250

/** Run `call`; `over` when it had not settled `BUDGET_MS + SLACK_MS` after it started. */
async function bounded<T>(call: () => Promise<T>) {
  let watchdog: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<'late'>((resolve) => {
    watchdog = setTimeout(() => resolve('late'), BUDGET_MS + SLACK_MS)
  })
  const outcome = call().then(
    () => ({ error: undefined as unknown }),
    (error: unknown) => ({ error }),
  )
  const first = await Promise.race([outcome, late])
  clearTimeout(watchdog)
  return first === 'late' ? { over: true, ...(await outcome) } : { over: false, ...first }
}

describe.each(ENGINES)('a silent node among two ($engine)', ({ engine, node }) => {
  const invoices = basicInvoices(uniqueName('silent-node'))
  const direct = clientFor(engine)
  let live: TcpProxy
  let silent: TcpProxy
  let search: SearchClient

  beforeAll(async () => {
    await direct.createIndex(invoices)
    await loadDocs(
      await direct.raw(),
      invoices.name,
      Array.from({ length: 20 }, (_, i) => basicInvoice(i)),
    )
    const port = Number(new URL(node).port)
    live = await startTcpProxy({ targetPort: port })
    silent = await startTcpProxy({ targetPort: port })
    search = createSearchClient({
      node: [`http://127.0.0.1:${live.port}`, `http://127.0.0.1:${silent.port}`],
      engine: engine as EngineKind,
      searchTimeout: `${BUDGET_MS}ms`,
      // Failures interleave with answers here; the breaker is not what this test is about.
      breakerThreshold: 1_000,
    })
  })

  afterAll(async () => {
    silent?.restore()
    await search?.close()
    await live?.close()
    await silent?.close()
    await direct.deleteIndex(invoices.name)
    await direct.close()
  })

  const readWith = (client: SearchClient, i: number): Promise<unknown> =>
    i % 2 === 0
      ? client.search(invoices, { query: invoices.q.match('description', 'servicio'), size: 5 })
      : client.get(invoices, basicInvoice(i % 20).id)
  const read = (i: number): Promise<unknown> => readWith(search, i)

  it('is marked dead after the reads it held, the next reads go to the live node, and it comes back', async () => {
    // Warm, with a budget of their own: both nodes answer and hold an open connection.
    for (let i = 0; i < 4; i++) await search.search(invoices, { size: 1, timeout: '15s' })
    expect((await search.health()).nodes?.map((n) => n.alive)).toEqual([true, true])

    silent.blackhole()
    const outcomes = []
    for (let i = 0; i < 40; i++) outcomes.push(await bounded(() => read(i)))
    const failed = outcomes.filter((o) => o.error !== undefined)
    expect(outcomes.filter((o) => o.over)).toHaveLength(0)
    expect(failed.every((o) => o.error instanceof SearchUnavailableError)).toBe(true)
    expect(failed.map((o) => (o.error as SearchUnavailableError).reason)).toEqual(failed.map(() => 'timeout'))
    // The silent node was tried (a test that never reached it would prove nothing), and only
    // until the pool had counted it out: the default weighted pool needs three marks with two
    // nodes (weight 500 -> 491 -> 412 -> 1). Without the mark, 20 of the 40 failed.
    console.log(
      `[silent-node] ${engine}: ${failed.length} of 40 reads failed at the budget, ${outcomes.filter((o) => o.over).length} over it, silentNodes=${search.readStats().silentNodes}`,
    )
    expect(failed.length).toBeGreaterThanOrEqual(1)
    expect(failed.length).toBeLessThanOrEqual(3)
    expect(search.readStats().silentNodes).toBe(failed.length)
    const during = (await search.health()).nodes ?? []
    expect(during.map((n) => n.url)).toEqual([
      `http://127.0.0.1:${live.port}`,
      `http://127.0.0.1:${silent.port}`,
    ])
    expect(during.map((n) => n.alive)).toEqual([true, false])
    expect(during[1]?.deadCount).toBe(failed.length)

    // Back: the pool tries the node again (weight 1 of 501: about one request in 500) and its
    // first answer restores it. No read fails meanwhile.
    silent.restore()
    let errors = 0
    let reads = 0
    while (reads < 3_000 && (await search.health({ timeout: '15s' })).nodes?.[1]?.alive !== true) {
      for (let i = 0; i < 100; i++, reads++) {
        if ((await bounded(() => read(i))).error !== undefined) errors++
      }
    }
    console.log(`[silent-node] ${engine}: alive again after ${reads} reads, ${errors} failed meanwhile`)
    expect(errors).toBe(0)
    expect((await search.health()).nodes?.map((n) => n.alive)).toEqual([true, true])
  })

  it('health() marks the silent node too when its timeout ends on it', async () => {
    const probe = createSearchClient({
      node: [`http://127.0.0.1:${live.port}`, `http://127.0.0.1:${silent.port}`],
      engine: engine as EngineKind,
    })
    try {
      for (let i = 0; i < 4; i++) expect((await probe.health({ timeout: '15s' })).ok).toBe(true)
      silent.blackhole()
      const statuses: string[] = []
      for (let i = 0; i < 8; i++) statuses.push((await probe.health({ timeout: `${BUDGET_MS}ms` })).status)
      const unreachable = statuses.filter((s) => s === 'unreachable').length
      console.log(`[silent-node] ${engine}: health() ${unreachable} of 8 unreachable`)
      // Reached once, then counted out (without the mark, every second probe: 4 of 8).
      expect(unreachable).toBeGreaterThanOrEqual(1)
      expect(unreachable).toBeLessThanOrEqual(2)
      const nodes = (await probe.health({ timeout: '15s' })).nodes ?? []
      expect(nodes.map((n) => n.alive)).toEqual([true, false])
      expect(nodes[1]?.deadCount).toBe(unreachable)
    } finally {
      silent.restore()
      await probe.close()
    }
  })

  it('marks the silent node in the pool of a borrowed official client too', async () => {
    const raw = new Client({
      node: [`http://127.0.0.1:${live.port}`, `http://127.0.0.1:${silent.port}`],
      ...(engine === 'opensearch' ? { Transport: OpenSearchTransport } : {}),
    })
    const listenersBefore = raw.diagnostic.listenerCount('request')
    const borrowed = createSearchClient({
      client: raw,
      searchTimeout: `${BUDGET_MS}ms`,
      breakerThreshold: 1_000,
    })
    try {
      for (let i = 0; i < 4; i++) await borrowed.search(invoices, { size: 1, timeout: '15s' })
      expect(raw.connectionPool.connections.map((c) => c.status)).toEqual(['alive', 'alive'])
      silent.blackhole()
      const outcomes = []
      for (let i = 0; i < 40; i++) outcomes.push(await bounded(() => readWith(borrowed, i)))
      const failed = outcomes.filter((o) => o.error !== undefined)
      console.log(
        `[silent-node] ${engine}, borrowed client: ${failed.length} of 40 reads failed at the budget, silentNodes=${borrowed.readStats().silentNodes}`,
      )
      expect(outcomes.filter((o) => o.over)).toHaveLength(0)
      expect(failed.every((o) => o.error instanceof SearchUnavailableError)).toBe(true)
      // Without reading the borrowed client's attempts, 20 of the 40 failed.
      expect(failed.length).toBeGreaterThanOrEqual(1)
      expect(failed.length).toBeLessThanOrEqual(3)
      expect(borrowed.readStats().silentNodes).toBe(failed.length)
      // The application's own pool holds the mark.
      expect(raw.connectionPool.connections.map((c) => c.status)).toEqual(['alive', 'dead'])
      expect((await borrowed.health({ timeout: '15s' })).nodes?.map((n) => n.alive)).toEqual([true, false])
    } finally {
      silent.restore()
      await borrowed.close()
    }
    // close() stops listening and leaves the borrowed client open.
    expect(raw.diagnostic.listenerCount('request')).toBe(listenersBefore)
    expect(await raw.ping()).toBe(true)
    await raw.close()
  })
})
