/**
 * Interactive reads are bounded: with the engine refused (a closed port, or a proxy that cuts)
 * or hung (a proxy that accepts and never answers), every `search`, `suggest` and `get` ends
 * within its budget with a typed `E_SEARCH_UNAVAILABLE`; the breaker opens after N failures and
 * then refuses at once without a request; it probes after the cool-down and closes when the
 * engine answers again, whose answers then equal a direct client's. Fallbacks answer marked
 * `degraded`. Bulk keeps its own longer budget and is not refused by an open breaker.
 *
 * "Within its budget" is counted, not timed: each call races a watchdog timer armed for
 * budget + 250 ms when the call starts; a call the watchdog beats counts as over budget (the
 * call's own deadline timer is due first, so a correct client always wins the race).
 */
import { freePort, startTcpProxy, type TcpProxy, uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createSearchClient,
  defineIndex,
  type EngineKind,
  field,
  type SearchClient,
  SearchError,
  SearchUnavailableError,
} from '../../../src/index.js'
import { clientFor, ENGINES, loadDocs } from '../../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../../helpers/invoices.js'

const COUNT = 60
const SLACK_MS = 250

/** Run `call` against a watchdog; `over` is true when the watchdog fired first. */
async function bounded<T>(budgetMs: number, call: () => Promise<T>) {
  let watchdog: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<'late'>((resolve) => {
    watchdog = setTimeout(() => resolve('late'), budgetMs + SLACK_MS)
  })
  const outcome = call().then(
    (value) => ({ value, error: undefined as unknown }),
    (error: unknown) => ({ value: undefined, error }),
  )
  const first = await Promise.race([outcome, late])
  clearTimeout(watchdog)
  if (first === 'late') return { over: true, ...(await outcome) }
  return { over: false, ...first }
}

/** An answer without the engine-side time (`took`), which differs between any two calls. */
function comparable(answer: unknown): unknown {
  if (answer === null || typeof answer !== 'object') return answer
  const { took: _took, ...rest } = answer as Record<string, unknown>
  return rest
}

function portOf(node: string): number {
  return Number(new URL(node).port)
}

describe.each(ENGINES)('bounded interactive reads on $engine', ({ engine, node }) => {
  const invoices = basicInvoices(uniqueName('bounded'))
  let direct: SearchClient
  let proxy: TcpProxy

  beforeAll(async () => {
    direct = clientFor(engine)
    await direct.createIndex(invoices)
    await loadDocs(
      await direct.raw(),
      invoices.name,
      Array.from({ length: COUNT }, (_, i) => basicInvoice(i)),
    )
    proxy = await startTcpProxy({ targetPort: portOf(node) })
  })

  afterAll(async () => {
    await proxy?.close()
    await direct?.deleteIndex(invoices.name)
    await direct?.close()
  })

  const via = (
    port: number,
    options: Parameters<typeof createSearchClient>[0] extends infer O ? Partial<O> : never = {},
  ) => createSearchClient({ node: `http://127.0.0.1:${port}`, engine: engine as EngineKind, ...options })

  /** One of each interactive read, in turn. */
  const reads = (search: SearchClient, i: number): Promise<unknown> => {
    const kind = i % 3
    if (kind === 0)
      return search.search(invoices, { query: invoices.q.match('description', 'servicio'), size: 5 })
    if (kind === 1) return search.get(invoices, basicInvoice(i).id)
    return search.search(invoices, {
      filter: invoices.q.term('status', 'paid'),
      size: 1,
      trackTotalHits: true,
    })
  }

  it('engine refused (a closed port, engine auto): every read fails typed within 1 s, the breaker opens', async () => {
    const port = await freePort()
    const search = createSearchClient({ node: `http://127.0.0.1:${port}` }) // auto: detection fails too
    const breaker: string[] = []
    search.on('breaker', (state) => breaker.push(state))
    try {
      const outcomes = []
      for (let i = 0; i < 20; i++) outcomes.push(await bounded(1_000, () => reads(search, i)))
      expect(outcomes.filter((o) => o.over)).toHaveLength(0)
      expect(outcomes.every((o) => o.error instanceof SearchUnavailableError)).toBe(true)
      const errors = outcomes.map((o) => o.error as SearchUnavailableError)
      expect(errors.every((e) => e.code === 'E_SEARCH_UNAVAILABLE' && e.retriable)).toBe(true)
      expect(errors.slice(0, 5).map((e) => e.reason)).toEqual(Array(5).fill('connection'))
      expect(errors.slice(5).every((e) => e.reason === 'circuit-open')).toBe(true)
      expect(search.readStats()).toMatchObject({ reads: 20, unavailable: 20, rejected: 15, breaker: 'open' })
      expect(breaker).toEqual(['open'])
    } finally {
      await search.close()
    }
  })

  it('engine hung (blackholed link): reads time out within the budget, then cost nothing while open; heals', async () => {
    const search = via(proxy.port, { searchTimeout: '600ms', breakerCooldown: '1500ms' })
    const states: string[] = []
    search.on('breaker', (state) => states.push(state))
    try {
      // Warm: the connection is open before the link hangs.
      expect((await search.search(invoices, { timeout: '15s' })).hits.length).toBeGreaterThan(0)
      proxy.blackhole()
      const outcomes = []
      for (let i = 0; i < 12; i++) outcomes.push(await bounded(600, () => reads(search, i)))
      expect(outcomes.filter((o) => o.over)).toHaveLength(0)
      const errors = outcomes.map((o) => o.error as SearchUnavailableError)
      expect(errors.every((e) => e instanceof SearchUnavailableError && e.retriable)).toBe(true)
      expect(errors.slice(0, 5).map((e) => e.reason)).toEqual(Array(5).fill('timeout'))
      expect(errors.slice(5).map((e) => e.reason)).toEqual(Array(7).fill('circuit-open'))
      // While open, no connection reaches the proxy.
      const accepted = proxy.accepted
      for (let i = 0; i < 50; i++) await reads(search, i).catch(() => undefined)
      expect(proxy.accepted).toBe(accepted)

      // The probe after the cool-down fails while the link still hangs: open again.
      await new Promise((resolve) => setTimeout(resolve, 1_600))
      const probe = await bounded(600, () => reads(search, 0))
      expect(probe.over).toBe(false)
      expect((probe.error as SearchUnavailableError).reason).toBe('timeout')
      expect(search.readStats().breaker).toBe('open')

      // Healed: the next probe closes the breaker, and answers equal the direct client's.
      proxy.restore()
      await new Promise((resolve) => setTimeout(resolve, 1_600))
      let wrong = 0
      for (let i = 0; i < 30; i++) {
        const [served, truth] = await Promise.all([reads(search, i), reads(direct, i)])
        if (JSON.stringify(comparable(served)) !== JSON.stringify(comparable(truth))) wrong++
      }
      expect(wrong).toBe(0)
      expect(search.readStats().breaker).toBe('closed')
      expect(states).toEqual(['open', 'half-open', 'open', 'half-open', 'closed'])
    } finally {
      proxy.restore()
      await search.close()
    }
  }, 60_000)

  it('a refused link through the proxy (cut) fails fast as connection errors, never a hang', async () => {
    const search = via(proxy.port, { breakerThreshold: 1_000 })
    try {
      await reads(search, 0)
      proxy.cut()
      const outcomes = []
      for (let i = 0; i < 15; i++) outcomes.push(await bounded(1_000, () => reads(search, i)))
      expect(outcomes.filter((o) => o.over)).toHaveLength(0)
      expect(outcomes.map((o) => (o.error as SearchUnavailableError).reason)).toEqual(
        Array(15).fill('connection'),
      )
    } finally {
      proxy.restore()
      await search.close()
    }
  })

  it('the per-call timeout follows call > instance > default', async () => {
    const search = via(proxy.port, { searchTimeout: '5s' })
    try {
      await reads(search, 0)
      proxy.blackhole()
      const call = await bounded(300, () =>
        search.search(invoices, { query: invoices.q.match('description', 'servicio'), timeout: '300ms' }),
      )
      expect(call.over).toBe(false)
      expect(call.error).toMatchObject({ code: 'E_SEARCH_UNAVAILABLE', reason: 'timeout', budgetMs: 300 })
      const defaults = createSearchClient({ node: `http://127.0.0.1:${proxy.port}`, engine })
      try {
        const d = await bounded(1_000, () => defaults.search(invoices, {}))
        expect(d.over).toBe(false)
        expect(d.error).toMatchObject({ code: 'E_SEARCH_UNAVAILABLE', reason: 'timeout', budgetMs: 1_000 })
      } finally {
        await defaults.close()
      }
    } finally {
      proxy.restore()
      await search.close()
    }
  })

  it('answers from a fallback, marked degraded, when the engine is down (call > client fallback)', async () => {
    const fromSql = [
      { id: 'sql-1', score: null, source: basicInvoice(1), highlight: undefined, sort: undefined },
    ]
    const search = via(proxy.port, {
      searchTimeout: '400ms',
      fallback: {
        search: () => ({ hits: fromSql, total: { value: 1, relation: 'eq' } }),
        get: (_error, { id }) => (id === basicInvoice(2).id ? basicInvoice(2) : null),
      },
    })
    try {
      expect((await search.search(invoices, {})).degraded).toBeUndefined()
      proxy.blackhole()
      const answered = await bounded(400, () =>
        search.search(invoices, { query: invoices.q.match('description', 'x') }),
      )
      expect(answered.over).toBe(false)
      expect(answered.value).toMatchObject({
        hits: fromSql,
        total: { value: 1 },
        degraded: { reason: 'timeout' },
      })
      const own = await search.search(invoices, {
        fallback: (error) => ({
          hits: [],
          total: { value: error.code === 'E_SEARCH_UNAVAILABLE' ? 0 : -1, relation: 'eq' },
        }),
      })
      expect(own.total?.value).toBe(0)
      expect(own.degraded?.code).toBe('E_SEARCH_UNAVAILABLE')
      const got = await search.get(invoices, basicInvoice(2).id)
      expect(got).toMatchObject({ source: basicInvoice(2), degraded: { code: 'E_SEARCH_UNAVAILABLE' } })
      expect(await search.get(invoices, 'missing')).toBeNull()
      // A failing fallback: the read rejects with the engine's error (still typed), counted and emitted.
      const failures: unknown[] = []
      search.on('fallback-error', (event) => failures.push(event.error))
      const failed = await search
        .search(invoices, {
          fallback: () => {
            throw new Error('the database is down too')
          },
        })
        .catch((error: unknown) => error)
      expect(failed).toBeInstanceOf(SearchUnavailableError)
      expect((failed as Error).message).toContain('the fallback failed too: the database is down too')
      expect(failures).toHaveLength(1)
      expect(search.readStats()).toMatchObject({ fallbacks: 4, fallbackFailures: 1 })
    } finally {
      proxy.restore()
      await search.close()
    }
  })

  it('bulk keeps its own longer budget and is not refused by an open breaker', async () => {
    const search = via(proxy.port, { searchTimeout: '300ms', breakerCooldown: '1m' })
    try {
      await search.search(invoices, {})
      proxy.setLatency(400) // every chunk delayed: a round trip takes > 800 ms
      const failures = []
      for (let i = 0; i < 5; i++) failures.push(await search.search(invoices, {}).catch((e: unknown) => e))
      expect(failures.every((e) => e instanceof SearchUnavailableError)).toBe(true)
      expect(search.readStats().breaker).toBe('open')
      const docs = Array.from({ length: 20 }, (_, i) => ({ ...basicInvoice(COUNT + i), id: `bulk-${i}` }))
      const report = await search.bulk(invoices, docs)
      expect(report).toMatchObject({ indexed: 20, failed: 0 })
      proxy.setLatency(0)
      await direct.refresh(invoices.name)
      const found = await direct.search(invoices, {
        filter: invoices.q.terms(
          'id',
          docs.map((d) => d.id),
        ),
        size: 50,
      })
      expect(found.hits).toHaveLength(20)
    } finally {
      proxy.setLatency(0)
      await search.close()
    }
  }, 60_000)

  it('retries an interactive read on another node, not on the same dead one', async () => {
    const dead = await freePort()
    const search = createSearchClient({
      node: [`http://127.0.0.1:${dead}`, node],
      engine,
      breakerThreshold: 100,
    })
    try {
      let failed = 0
      for (let i = 0; i < 10; i++) {
        const outcome = await bounded(1_000, () => reads(search, i))
        if (outcome.over || outcome.error) failed++
      }
      expect(failed).toBe(0)
    } finally {
      await search.close()
    }
  })

  it('engine errors that are answers stay E_SEARCH_ENGINE and keep the breaker closed', async () => {
    const search = via(proxy.port, { breakerThreshold: 2 })
    try {
      for (let i = 0; i < 4; i++) {
        const error = await search
          .search(invoices, { index: uniqueName('missing-index') })
          .catch((e: unknown) => e)
        expect(error).toBeInstanceOf(SearchError)
        expect((error as SearchError).code).toBe('E_SEARCH_ENGINE')
        expect((error as SearchError).status).toBe(404)
      }
      expect(search.readStats().breaker).toBe('closed')
    } finally {
      await search.close()
    }
  })
})

describe('bounded suggest (completion field, OpenSearch)', () => {
  const names = defineIndex({
    name: uniqueName('bounded-suggest'),
    id: 'id',
    fields: { id: field.keyword(), name: field.autocomplete({ strategy: 'completion' }) },
  })
  const node = ENGINES.find((e) => e.engine === 'opensearch')?.node as string
  let proxy: TcpProxy
  let search: SearchClient

  beforeAll(async () => {
    proxy = await startTcpProxy({ targetPort: portOf(node) })
    search = createSearchClient({
      node: `http://127.0.0.1:${proxy.port}`,
      engine: 'opensearch',
      searchTimeout: '500ms',
    })
    await search.createIndex(names)
    await search.bulk(
      names,
      [
        { id: '1', name: 'Electrónica Díaz' },
        { id: '2', name: 'Electricidad Pérez' },
      ],
      { refresh: true },
    )
  })

  afterAll(async () => {
    proxy.restore()
    await search.deleteIndex(names.name)
    await search.close()
    await proxy.close()
  })

  it('suggests while the engine answers, fails typed within the budget when it hangs', async () => {
    // The first suggest of a new index loads its completion structure: on a loaded CI machine
    // that took longer than the 500 ms budget once, which is not what this test is about.
    const answered = await search.suggest(names, 'name', 'elec', { timeout: '15s' })
    expect(answered.map((s) => s.id).sort()).toEqual(['1', '2'])
    expect(search.readStats().breaker).toBe('closed')
    proxy.blackhole()
    const outcomes = []
    for (let i = 0; i < 8; i++) outcomes.push(await bounded(500, () => search.suggest(names, 'name', 'elec')))
    proxy.restore()
    expect(outcomes.filter((o) => o.over)).toHaveLength(0)
    expect(outcomes.map((o) => (o.error as SearchUnavailableError).reason)).toEqual([
      ...Array(5).fill('timeout'),
      ...Array(3).fill('circuit-open'),
    ])
  })
})
