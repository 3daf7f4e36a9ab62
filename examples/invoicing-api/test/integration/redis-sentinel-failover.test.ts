/**
 * The example on Redis behind Sentinel, its primary SIGKILLed under load (issue 16). Two instances
 * of the app run for real (Nest + Prisma on MariaDB, Kafka, OpenSearch) configured from the
 * environment the way an operator would (`REDIS_SENTINELS`, `REDIS_SENTINEL_NAME`, parsed by
 * config.ts), against a private topology of testkit's `startRedisSentinel()` (a primary, a replica,
 * three Sentinels): the cache, its bus, the dashboard's aggregator and the Redis health check all
 * connect through the Sentinels.
 *
 * While four readers keep `GET /invoices/:id` busy on both instances, the primary is killed and
 * Sentinel promotes the replica. Asserted (counts only): no 5xx and no request left unanswered
 * during the failover (the cache serves from L1 and the database while L2 is away), both caches
 * ran their failover check on the promoted node, `/health` is 200 again on both, and an update
 * made after the promotion is read fresh at once by the writing instance and, through the bus on
 * the new primary, by the other one (stale reads: 0). Every wait is bounded.
 */
import { isDeepStrictEqual } from 'node:util'
import type { Cache } from '@ayala/cache'
import { AYALA_CACHE } from '@ayala/nestjs'
import { type RedisSentinel, startRedisSentinel } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceAddresses } from '../../src/config.ts'
import type { Database } from '../../src/database/connection.ts'
import type { InvoiceView } from '../../src/invoices/invoice.ts'
import { provisionDataset } from '../helpers/dataset.ts'

const INVOICES = 200
const READERS = 4
/** A request not answered within this is counted as hung (the failover must never hold one). */
const HANG_MS = 10_000

type Started = Awaited<ReturnType<typeof import('../../src/bootstrap.ts').startApp>>

/** Poll `read` until `done(value)` or `timeoutMs`; returns the last value read. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let value = await read()
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    value = await read()
  }
  return value
}

/** Status of a GET (0: no answer within {@link HANG_MS} or a broken connection). */
async function status(url: string): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(HANG_MS) })
    await response.arrayBuffer()
    return response.status
  } catch {
    return 0
  }
}

async function invoice(base: string, id: number): Promise<InvoiceView> {
  const response = await fetch(`${base}/invoices/${id}`, { signal: AbortSignal.timeout(HANG_MS) })
  expect(response.status).toBe(200)
  return (await response.json()) as InvoiceView
}

describe('invoicing API on Redis Sentinel, the primary killed under load', () => {
  let topology: RedisSentinel | undefined
  let apps: Started[] = []
  let db: Database
  let sql: typeof import('../../src/cli/reference-queries.ts')
  let dispose: (() => Promise<void>) | undefined
  let addresses: ServiceAddresses

  const cacheOf = (app: Started) => app.app.get<Cache>(AYALA_CACHE)
  const healthy = async (app: Started) => (await status(`${app.url}/health`)) === 200

  beforeAll(async () => {
    topology = await startRedisSentinel()
    let provisioned: ServiceAddresses
    ;({ addresses: provisioned, db, sql, dispose } = await provisionDataset('sentinel', INVOICES))
    const { serviceAddresses } = await import('../../src/config.ts')
    // The operator's way: the Sentinels and the primary's name in the environment.
    addresses = serviceAddresses({
      ...process.env,
      INVOICING_DATABASE_URL: provisioned.databaseUrl,
      REDIS_SENTINELS: topology.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      REDIS_SENTINEL_NAME: topology.masterName,
    })
    expect(addresses.redisOptions?.sentinels).toHaveLength(3)
    const { startApp } = await import('../../src/bootstrap.ts')
    for (let i = 0; i < 2; i++) apps.push(await startApp(addresses, { logger: false }))
    // The aggregator joins its group and applies the seeded events; then /health is 200.
    for (const app of apps) expect(await until(() => healthy(app), Boolean, 120_000)).toBe(true)
  }, 300_000)

  afterAll(async () => {
    for (const app of apps) await app.app.close()
    apps = []
    await dispose?.()
    await topology?.dispose()
  }, 60_000)

  it('keeps answering through the promotion, recovers by itself and serves updates fresh', async () => {
    const [a, b] = apps as [Started, Started]
    if (topology === undefined) throw new Error('no topology')

    // Served from the cache: the second read of each instance is an L1 hit.
    const hitsBefore = cacheOf(a).stats().l1Hits + cacheOf(b).stats().l1Hits
    const first = await invoice(a.url, 5)
    expect(first).toEqual(await sql.sqlInvoice(db.prisma, 5))
    expect(await invoice(a.url, 5)).toEqual(first)
    expect(await invoice(b.url, 5)).toEqual(first)
    expect(await invoice(b.url, 5)).toEqual(first)
    expect(cacheOf(a).stats().l1Hits + cacheOf(b).stats().l1Hits - hitsBefore).toBeGreaterThanOrEqual(2)

    // Readers on both instances, one request in flight each, until told to stop.
    const statuses = new Map<number, number>()
    let duringFailover = 0
    let failoverWindow = false
    let running = true
    const readers = Array.from({ length: READERS }, async (_, reader) => {
      const base = (reader % 2 === 0 ? a : b).url
      for (let n = 0; running; n++) {
        const code = await status(`${base}/invoices/${1 + ((reader * 37 + n * 11) % INVOICES)}`)
        statuses.set(code, (statuses.get(code) ?? 0) + 1)
        if (failoverWindow) duringFailover++
      }
    })

    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const killedAt = performance.now()
    failoverWindow = true
    const killed = await topology.killPrimary()
    const promoted = await topology.waitForPromotion(killed, 60_000)
    const promotedAt = performance.now()
    // Both instances healthy again: the cache, the aggregator and the health check on the new primary.
    const recovered = await Promise.all(apps.map((app) => until(() => healthy(app), Boolean, 60_000)))
    const recoveredAt = performance.now()
    failoverWindow = false
    running = false
    await Promise.all(readers)
    expect(recovered).toEqual([true, true])

    const total = [...statuses.values()].reduce((sum, count) => sum + count, 0)
    const failed = [...statuses].filter(([code]) => code === 0 || code >= 500)
    console.log(
      `redis-sentinel-failover: primary ${killed.port} killed, ${promoted.port} promoted after ${(promotedAt - killedAt).toFixed(0)} ms, /health 200 on both after ${(recoveredAt - killedAt).toFixed(0)} ms; ${total} GET /invoices/:id (${duringFailover} between the kill and the recovery), statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    )
    expect(failed).toEqual([])
    expect(statuses.get(200)).toBe(total)
    expect(duringFailover).toBeGreaterThan(0)
    // Each cache saw the promoted node's new replication id and started its namespace over.
    expect(cacheOf(a).stats().failovers).toBeGreaterThanOrEqual(1)
    expect(cacheOf(b).stats().failovers).toBeGreaterThanOrEqual(1)

    // Updates after the promotion: the writer reads its own write at once; the other instance,
    // holding the old value in L1, is told over the bus on the new primary.
    let stale = 0
    for (const id of [5, 17, 42]) {
      const before = await invoice(b.url, id)
      expect(await invoice(b.url, id)).toEqual(before)
      const response = await fetch(`${a.url}/invoices/${id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ description: `Revisión tras la conmutación ${id}` }),
        signal: AbortSignal.timeout(HANG_MS),
      })
      expect(response.status).toBe(200)
      const truth = await sql.sqlInvoice(db.prisma, id)
      expect(truth).toMatchObject({ version: before.version + 1 })
      if (!isDeepStrictEqual(await invoice(a.url, id), truth)) stale++
      const seen = await until(
        () => invoice(b.url, id),
        (view) => view.version === before.version + 1,
        10_000,
      )
      expect(seen).toEqual(truth)
    }
    expect(stale).toBe(0)
  }, 240_000)
})
