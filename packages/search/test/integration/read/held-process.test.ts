/**
 * A search read whose answer the engine gave in time while this process was held past the read's
 * budget (a long synchronous task, a GC pause, busy cores): the answer waits in the socket when
 * the budget's timer fires, and the timer fires before the loop reads its sockets. The verdict
 * is taken after the sockets were read (read/bounded-read.ts): the read is served, not failed.
 * (That an engine which does not answer still fails within the budget is bounded-reads.test.ts.)
 *
 * Each read is held as soon as its request is on the wire: undici (the transport's HTTP client)
 * publishes `undici:request:bodySent` once the request is written, and the process is held
 * there, so the engine's answer arrives during the hold.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { holdProcess, uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSearchClient, type Duration, type SearchClient } from '../../../src/index.js'
import { loadDocs, urls } from '../../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../../helpers/invoices.js'

const HOLD_MS = 300
const BUDGET: Duration = '50ms'

describe('search read budget in a process held past it (OpenSearch)', () => {
  const invoices = basicInvoices(uniqueName('held'))
  const origin = new URL(urls.opensearch).origin
  let search: SearchClient

  beforeAll(async () => {
    search = createSearchClient({ node: urls.opensearch, engine: 'opensearch', searchTimeout: '30s' })
    await search.createIndex(invoices)
    await loadDocs(
      await search.raw(),
      invoices.name,
      Array.from({ length: 20 }, (_, i) => basicInvoice(i)),
    )
  })

  afterAll(async () => {
    await search?.deleteIndex(invoices.name)
    await search?.close()
  })

  /** One of each interactive read, in turn. */
  const read = (i: number, timeout: Duration = BUDGET): Promise<unknown> => {
    const kind = i % 3
    if (kind === 0)
      return search.search(invoices, {
        query: invoices.q.match('description', 'servicio'),
        size: 5,
        timeout,
      })
    if (kind === 1) return search.get(invoices, basicInvoice(i).id, { timeout })
    return search.search(invoices, {
      filter: invoices.q.term('status', 'paid'),
      size: 1,
      trackTotalHits: true,
      timeout,
    })
  }

  /** Run `work` with the process held for HOLD_MS once each request to the engine is written; the holds. */
  async function whileHeld(work: () => Promise<void>): Promise<number> {
    let held = 0
    const onSent = (message: unknown) => {
      const request = (message as { request: { origin?: unknown } }).request
      if (String(request.origin) !== origin) return
      held++
      holdProcess(HOLD_MS)
    }
    subscribe('undici:request:bodySent', onSent)
    try {
      await work()
    } finally {
      unsubscribe('undici:request:bodySent', onSent)
    }
    return held
  }

  it('answers received during the hold are served: no read fails its budget', async () => {
    // Warm, without the small budget: the connection is open (keep-alive), the engine has run
    // each query once, the code paths are compiled.
    for (let i = 0; i < 6; i++) await read(i, '30s')
    const rounds = 12
    let rejected = 0
    const before = search.readStats()
    const held = await whileHeld(async () => {
      for (let n = 0; n < rounds; n++) {
        const failed = await read(n).then(
          () => false,
          () => true,
        )
        if (failed) rejected++
      }
    })
    console.log(`held process: ${rejected} of ${rounds} reads failed their ${BUDGET} budget (held ${held})`)
    expect(held).toBe(rounds)
    expect(rejected).toBe(0)
    expect(search.readStats().unavailable - before.unavailable).toBe(0)
  })

  it('health() in a held process reports the engine that answered in time (engine/health.ts)', async () => {
    await search.health({ timeout: '30s' })
    const rounds = 6
    const statuses: string[] = []
    const held = await whileHeld(async () => {
      for (let n = 0; n < rounds; n++) statuses.push((await search.health({ timeout: BUDGET })).status)
    })
    console.log(`held process: health() statuses ${statuses.join(', ')} (held ${held})`)
    expect(held).toBe(rounds)
    expect(statuses.filter((status) => status === 'unreachable')).toEqual([])
  })
})
