/**
 * Dashboard reads with Redis hung or refused (issue 14), on the real services: a consumer applies
 * to the shared Redis directly while the dashboards read it through a loopback proxy that the test
 * blackholes (bytes held: a frozen server, a route dropping packets) or cuts (connections
 * refused). The dashboards' client is built as the Nest module used to build it
 * (`maxRetriesPerRequest: null`: commands queue forever), the worst case for a bound.
 *
 * Asserted (counts only): no read answers later than its deadline plus a margin; every answer
 * is either marked stale or equal to the truth at that moment (0 stale figures presented as
 * current, once the dashboard noticed the fault); a dashboard that holds no snapshot rejects with
 * `E_STREAM_UNAVAILABLE`; a subscriber gets a stale update with a status change, then (link
 * restored, events applied meanwhile) a `resync` update at the new truth; reads are fresh and at
 * the truth again after healing.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isDeepStrictEqual } from 'node:util'
import { startTcpProxy, type TcpProxy } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createDashboard,
  type Dashboard,
  type DashboardSnapshot,
  type DashboardUpdate,
  StreamUnavailableError,
  streamDashboard,
} from '../../../src/index.js'
import { urls, World, waitFor } from '../../helpers/harness.js'
import {
  asTruth,
  generateEvents,
  groundTruth,
  type invoiceAggregates,
  invoiceView,
  READ_RANGE,
} from '../../helpers/invoices.js'

const TIMEOUT_MS = 300
/** Scheduling noise on the shared 2-core machine: an answer later than deadline + margin is late. */
const MARGIN_MS = 700

type Snapshot = DashboardSnapshot<typeof invoiceAggregates>

describe('dashboard reads with Redis hung or refused', () => {
  let world: World | undefined
  let proxy: TcpProxy | undefined
  const clients: Redis[] = []
  const dashboards: Dashboard<typeof invoiceAggregates>[] = []

  afterEach(async () => {
    proxy?.restore()
    for (const dashboard of dashboards.splice(0)) await dashboard.close()
    for (const client of clients.splice(0)) client.disconnect()
    await proxy?.close()
    proxy = undefined
    await world?.dispose()
    world = undefined
  })

  /** A read raced against deadline + margin: `late` when the margin passed first. */
  async function timedRead(dashboard: Dashboard<typeof invoiceAggregates>) {
    const started = performance.now()
    let watchdog: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<'late'>((resolve) => {
      watchdog = setTimeout(() => resolve('late'), TIMEOUT_MS + MARGIN_MS)
    })
    const read = dashboard.read(READ_RANGE).then(
      (snapshot): { snapshot: Snapshot; error?: undefined } => ({ snapshot }),
      (error: unknown) => ({ snapshot: undefined, error }),
    )
    const first = await Promise.race([read, late])
    clearTimeout(watchdog)
    // A read still pending 10 s past the margin is given up (the old code waited forever).
    let cap: ReturnType<typeof setTimeout> | undefined
    const givenUp = new Promise<{ snapshot: undefined; error: Error }>((resolve) => {
      cap = setTimeout(() => resolve({ snapshot: undefined, error: new Error('no answer') }), 10_000)
    })
    const outcome = first === 'late' ? await Promise.race([read, givenUp]) : first
    clearTimeout(cap)
    return { late: first === 'late', ms: performance.now() - started, ...outcome }
  }

  for (const fault of ['blackhole', 'cut'] as const) {
    it(`${fault}: every read answers within its deadline, stale-marked or E_STREAM_UNAVAILABLE; healed: fresh at the truth`, async () => {
      world = await new World(2).init()
      const events = generateEvents(600, fault === 'blackhole' ? 101 : 103)
      const consumer = world.consumer()
      await consumer.start()
      await world.produce(events.slice(0, 200))
      await world.waitCaughtUp()
      proxy = await startTcpProxy({ targetPort: Number(new URL(urls.redis).port || 6379) })
      const reader = new Redis(`redis://127.0.0.1:${proxy.port}`, { maxRetriesPerRequest: null })
      reader.on('error', () => undefined)
      clients.push(reader)
      const dashboard = createDashboard({
        redis: reader,
        namespace: world.namespace,
        view: invoiceView,
        timeout: TIMEOUT_MS,
      })
      dashboards.push(dashboard)
      await dashboard.ready()
      let truth = groundTruth(events.slice(0, 200))
      const before = await dashboard.read(READ_RANGE)
      expect(before.stale).toBe(false)
      expect(asTruth(before.figures)).toEqual(truth)

      // A subscriber, as SSE uses it.
      const updates: DashboardUpdate<typeof invoiceAggregates>[] = []
      const controller = new AbortController()
      const iterating = (async () => {
        for await (const update of dashboard.subscribe(READ_RANGE, { signal: controller.signal }))
          updates.push(update)
      })()
      await waitFor('the first update', () => updates.length > 0)

      if (fault === 'blackhole') proxy.blackhole()
      else proxy.cut()
      const faultAt = performance.now()
      const answers: Array<Awaited<ReturnType<typeof timedRead>> & { truth: unknown; noticed: boolean }> = []
      // Reads until the dashboard noticed (the copy off), then events applied behind its back.
      while (dashboard.stats().subscribed && performance.now() - faultAt < 15_000) {
        answers.push({ ...(await timedRead(dashboard)), truth, noticed: false })
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const noticedMs = performance.now() - faultAt
      // The copy is off once the fault is noticed (the old code never noticed a blackhole).
      const noticed = !dashboard.stats().subscribed
      await world.produce(events.slice(200, 400))
      await world.waitCaughtUp()
      truth = groundTruth(events.slice(0, 400))
      for (let i = 0; i < 20; i++) {
        answers.push({ ...(await timedRead(dashboard)), truth, noticed: true })
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      // A dashboard with no snapshot of its own: a typed error, as fast.
      const empty = createDashboard({
        redis: reader,
        namespace: world.namespace,
        view: invoiceView,
        timeout: TIMEOUT_MS,
        cache: false,
      })
      dashboards.push(empty)
      const emptyAnswers = []
      for (let i = 0; i < 8; i++) emptyAnswers.push(await timedRead(empty))

      const late = [...answers, ...emptyAnswers].filter((a) => a.late)
      // Marked stale, or equal to the truth of the moment: nothing old presented as current.
      const staleAsCurrent = answers.filter(
        (a) =>
          a.snapshot !== undefined &&
          !a.snapshot.stale &&
          !isDeepStrictEqual(asTruth(a.snapshot.figures), a.truth),
      )
      const failed = answers.filter((a) => a.snapshot === undefined)
      const stale = answers.filter((a) => a.snapshot?.stale === true)
      const staleWrong = stale.filter(
        (a) =>
          !isDeepStrictEqual(asTruth((a.snapshot as Snapshot).figures), groundTruth(events.slice(0, 200))),
      )
      const afterNotice = answers.filter((a) => a.noticed)
      const maxMs = Math.max(...answers.map((a) => a.ms), ...emptyAnswers.map((a) => a.ms))
      console.log(
        `bounded-reads ${fault}: ${answers.length} reads (${stale.length} stale, reasons ${[...new Set(stale.map((a) => a.snapshot?.staleReason))].join('/')}), noticed after ${noticedMs.toFixed(0)} ms, slowest ${maxMs.toFixed(0)} ms; empty dashboard: ${emptyAnswers.map((a) => (a.error as StreamUnavailableError | undefined)?.reason).join(',')}`,
      )
      expect(noticed).toBe(true)
      expect(late).toHaveLength(0)
      expect(failed).toHaveLength(0)
      expect(staleAsCurrent).toHaveLength(0)
      expect(staleWrong).toHaveLength(0)
      expect(afterNotice.every((a) => a.snapshot?.stale === true)).toBe(true)
      expect(stale.every((a) => (a.snapshot as Snapshot).version === before.version)).toBe(true)
      expect(emptyAnswers.every((a) => a.error instanceof StreamUnavailableError && a.error.retriable)).toBe(
        true,
      )
      const emptyReasons = new Set(emptyAnswers.map((a) => (a.error as StreamUnavailableError).reason))
      // Refused: this client queues commands while it reconnects, so they time out rather than fail.
      for (const reason of emptyReasons) {
        expect(
          fault === 'blackhole' ? ['timeout', 'circuit-open'] : ['timeout', 'connection', 'circuit-open'],
        ).toContain(reason)
      }
      expect(emptyReasons.has('circuit-open')).toBe(true)
      // The subscriber was told: a stale update, with a status change.
      const staleUpdate = updates.find((u) => u.stale)
      expect(staleUpdate?.statusChanged).toBe(true)

      // Healed: more events meanwhile; fresh reads at the truth, the subscriber resynchronized.
      proxy.restore()
      const restoredAt = performance.now()
      await world.produce(events.slice(400))
      await world.waitCaughtUp()
      truth = groundTruth(events)
      await waitFor('a fresh read at the truth', async () => {
        const snapshot = await dashboard.read(READ_RANGE)
        return !snapshot.stale && isDeepStrictEqual(asTruth(snapshot.figures), truth)
      })
      const healedMs = performance.now() - restoredAt
      await waitFor('the subscriber at the truth', () => {
        const last = updates.at(-1)
        return last !== undefined && !last.stale && isDeepStrictEqual(asTruth(last.figures), truth)
      })
      const firstFresh = updates.findIndex((u, i) => i > updates.indexOf(staleUpdate as never) && !u.stale)
      expect(updates[firstFresh]?.resync).toBe(true)
      expect(updates[firstFresh]?.statusChanged).toBe(true)
      await waitFor('the in-process copy back', () => dashboard.stats().subscribed)
      // The dashboard with no snapshot reads again after its breaker's cool-down.
      await waitFor('the other dashboard at the truth', async () =>
        isDeepStrictEqual(asTruth((await empty.read(READ_RANGE)).figures), truth),
      )
      console.log(
        `bounded-reads ${fault}: healed ${healedMs.toFixed(0)} ms after the restore (with 200 events applied)`,
      )
      controller.abort()
      await iterating
    }, 180_000)
  }

  it('SSE with nothing to show: 503 with Retry-After instead of an empty stream; restored: the stream opens with the figures', async () => {
    world = await new World(2).init()
    const events = generateEvents(100, 107)
    const consumer = world.consumer()
    await consumer.start()
    await world.produce(events)
    await world.waitCaughtUp()
    proxy = await startTcpProxy({ targetPort: Number(new URL(urls.redis).port || 6379) })
    const reader = new Redis(`redis://127.0.0.1:${proxy.port}`, { maxRetriesPerRequest: null })
    reader.on('error', () => undefined)
    clients.push(reader)
    proxy.cut()
    const dashboard = createDashboard({
      redis: reader,
      namespace: world.namespace,
      view: invoiceView,
      timeout: TIMEOUT_MS,
    })
    dashboards.push(dashboard)
    const server = createServer((_request, response) => {
      void streamDashboard(dashboard, response, { params: READ_RANGE })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    try {
      const refused = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS + MARGIN_MS) })
      expect(refused.status).toBe(503)
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(await refused.json()).toMatchObject({ code: 'E_STREAM_UNAVAILABLE', retriable: true })

      proxy.restore()
      const truth = groundTruth(events)
      await waitFor('the stream to open at the truth', async () => {
        const controller = new AbortController()
        const response = await fetch(url, { signal: controller.signal })
        if (response.status !== 200) return false
        const reader = (response.body as ReadableStream<Uint8Array>).getReader()
        let text = ''
        while (!text.includes('event: figures')) {
          const { value, done } = await reader.read()
          if (done) break
          text += new TextDecoder().decode(value)
        }
        controller.abort()
        const data = /event: figures\ndata: (.*)\n/.exec(text)?.[1]
        return data !== undefined && isDeepStrictEqual(asTruth(JSON.parse(data).figures), truth)
      })
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }, 120_000)
})
