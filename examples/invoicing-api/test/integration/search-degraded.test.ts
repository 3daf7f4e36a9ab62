/**
 * The example with its search engine hung or refused (issue 14): the app runs for real (Nest +
 * Prisma on MariaDB, Redis, Kafka, OpenSearch) with its search client pointed at a loopback proxy
 * in front of OpenSearch. While the proxy holds every byte (`blackhole`) or refuses (`cut`),
 * `/search` answers 200 from MariaDB marked `degraded` with the reason, equal to the SQL truth,
 * and `/autocomplete` answers 503 with `E_SEARCH_UNAVAILABLE`; every answer comes before a
 * watchdog armed at the 1 s search budget plus 1 s for the HTTP hop and the SQL fallback. Healed,
 * `/search` answers from the engine again.
 */
import { startTcpProxy, type TcpProxy } from '@ayala/testkit'
import type { INestApplication } from '@nestjs/common'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceAddresses } from '../../src/config.ts'
import type { Database } from '../../src/database/connection.ts'
import type { SearchAnswer } from '../../src/search/search.controller.ts'
import { provisionDataset } from '../helpers/dataset.ts'

const INVOICES = 400
const BUDGET_MS = 1_000
const SLACK_MS = 1_000

describe('invoicing API with the search engine hung or refused', () => {
  let addresses: ServiceAddresses
  let app: INestApplication | undefined
  let url: string
  let db: Database
  let proxy: TcpProxy
  let sql: typeof import('../../src/cli/reference-queries.ts')
  let dispose: (() => Promise<void>) | undefined
  const durations: number[] = []

  /** GET `path`, racing a watchdog at budget + slack; `late` when the watchdog came first. */
  async function get<T>(path: string) {
    const started = performance.now()
    let watchdog: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<'late'>((resolve) => {
      watchdog = setTimeout(() => resolve('late'), BUDGET_MS + SLACK_MS)
    })
    const call = fetch(`${url}${path}`).then(async (response) => ({
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: (await response.json()) as T & { code?: string },
    }))
    const first = await Promise.race([call, late])
    clearTimeout(watchdog)
    const answer = first === 'late' ? { late: true, ...(await call) } : { late: false, ...first }
    durations.push(performance.now() - started)
    return answer
  }

  beforeAll(async () => {
    ;({ addresses, db, sql, dispose } = await provisionDataset('degraded', INVOICES))
    const { startApp } = await import('../../src/bootstrap.ts')
    proxy = await startTcpProxy({ targetPort: Number(new URL(addresses.searchUrl).port || 9200) })
    const started = await startApp(
      { ...addresses, searchUrl: `http://127.0.0.1:${proxy.port}` },
      { logger: false },
    )
    app = started.app
    url = started.url
  })

  afterAll(async () => {
    proxy?.restore()
    await app?.close()
    await proxy?.close()
    await dispose?.()
    if (durations.length > 0) {
      const sorted = [...durations].sort((a, b) => a - b)
      console.log(
        `search-degraded: ${durations.length} requests, max ${sorted.at(-1)?.toFixed(0)} ms, p50 ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms`,
      )
    }
  })

  /** Every served hit contains every word (folded), as the SQL truth does. */
  function matches(hit: SearchAnswer['hits'][number], word: string): boolean {
    const fold = (text: string) => text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()
    return fold(`${hit.description} ${hit.clientName}`).includes(fold(word))
  }

  for (const fault of ['blackhole', 'cut'] as const) {
    it(`${fault}: /search answers from SQL marked degraded, /autocomplete 503, every answer within its budget`, async () => {
      const truth = await sql.sqlSearch(db.prisma, 'climatizacion')
      expect(truth.total).toBeGreaterThan(0)
      const before = await get<SearchAnswer>('/search?q=climatizacion')
      expect(before.status).toBe(200)
      expect(before.body.degraded).toBeUndefined()
      expect(before.body.total).toBe(truth.total)

      if (fault === 'blackhole') proxy.blackhole()
      else proxy.cut()
      const searches = []
      const typeAheads = []
      for (let i = 0; i < 8; i++) {
        searches.push(await get<SearchAnswer>('/search?q=climatizacion'))
        typeAheads.push(await get<SearchAnswer>('/autocomplete?q=consultoria%20trib'))
      }
      proxy.restore()

      expect([...searches, ...typeAheads].filter((answer) => answer.late)).toHaveLength(0)
      expect(searches.map((s) => s.status)).toEqual(Array(8).fill(200))
      expect(searches.every((s) => s.body.degraded === true)).toBe(true)
      const reasons = new Set(searches.map((s) => s.body.reason))
      for (const reason of reasons) {
        expect(
          fault === 'blackhole' ? ['timeout', 'circuit-open'] : ['connection', 'circuit-open'],
        ).toContain(reason)
      }
      // Degraded answers equal the SQL truth: the same count, 20 newest hits each holding the word.
      const wrong = searches.filter(
        (s) =>
          s.body.total !== truth.total ||
          s.body.hits.length !== Math.min(20, truth.total) ||
          !s.body.hits.every((hit) => matches(hit, 'climatizacion')),
      )
      expect(wrong).toHaveLength(0)
      expect(typeAheads.map((t) => [t.status, t.body.code])).toEqual(
        Array(8).fill([503, 'E_SEARCH_UNAVAILABLE']),
      )
      expect(typeAheads.every((t) => Number(t.retryAfter) >= 1)).toBe(true)

      // Healed: after the breaker's cool-down (2 s) the engine answers again.
      await new Promise((resolve) => setTimeout(resolve, 2_100))
      const healed = await get<SearchAnswer>('/search?q=climatizacion')
      expect(healed.status).toBe(200)
      expect(healed.body.degraded).toBeUndefined()
      expect(healed.body.total).toBe(truth.total)
      const typed = await get<SearchAnswer>('/autocomplete?q=consultoria%20trib')
      expect(typed.status).toBe(200)
      expect(typed.body.hits.length).toBeGreaterThan(0)
    }, 120_000)
  }

  it('reads user operators as words: "climatizacion OR ascensor" needs all three', async () => {
    const answer = await get<SearchAnswer>('/search?q=climatizacion%20OR%20ascensor')
    expect(answer.status).toBe(200)
    expect(answer.body.total).toBe((await sql.sqlSearch(db.prisma, 'climatizacion OR ascensor')).total)
  })
})
