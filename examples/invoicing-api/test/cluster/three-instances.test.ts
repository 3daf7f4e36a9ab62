/**
 * Three instances of the example and two consumers on the harness's clusters (issue 16): three
 * processes of the real app (`src/main.ts`, configured only from the environment the way an
 * operator would) on the 3-node Kafka cluster (`KAFKA_BROKERS`), the 3-node OpenSearch cluster
 * (`SEARCH_NODES`, the index with 1 replica), Redis through the three Sentinels
 * (`REDIS_SENTINELS` / `REDIS_SENTINEL_NAME`: the cache, its bus, the aggregator, the health
 * check) and MariaDB. Instances A and B run the dashboard's aggregator (two consumers of one
 * group); C runs none (`INVOICING_AGGREGATOR=off`) and serves the figures they write.
 *
 * Under a paced load (three writers, each PATCHing its own invoices through the three instances
 * in turn; one reader per instance), three phases: steady, the Redis primary SIGKILLed (Sentinel
 * promotes the replica; the old primary comes back as its replica), and the leader of the
 * topic's partition 0 SIGKILLed (restarted while the load goes on). Counted, and asserted:
 *
 * - stale reads 0, three ways: the instance that acknowledged a PATCH serves it at once; once
 *   every instance has served a version, no read started later returns an older one, anywhere;
 *   and no instance ever serves an older version than it served before (no entry comes back,
 *   through a failover either). The two other instances learn of a write over the cache's bus
 *   (Redis pub/sub). The example's writes wait for the peers' confirmations (`awaitPeers`, at
 *   most `peerAckTimeout`, 100 ms) and say what they found in the `Cache-Coherence` header
 *   (src/database/cache-coherence.ts): after a write `confirmed` by the three, a read on either
 *   other instance at once must serve the new version (0 stale, asserted in every phase, the
 *   failovers included); after one confirmed by fewer (`partial`: an instance whose bus was
 *   reconnecting was not subscribed), an `unconfirmed` (a peer too slow to confirm) or a `deferred`
 *   write (Redis unreachable: nobody told yet) such a read may answer the previous version, as
 *   the header announced: counted per kind and printed (`coherence=kind=writes/stale`); and each
 *   instance must serve the new version within 10 s;
 * - no request failed (no 5xx, none unanswered within 10 s), the failovers included;
 * - after each phase, once the outbox drained: the dashboard of each of the three equals SQL's
 *   GROUP BY (no event lost or counted twice), the search index equals the table (every document
 *   at its row's version and status, none missing, none extra), and every invoice read through
 *   each instance equals its row.
 *
 * Every wait is bounded; one line of figures per phase is printed (docs/operations.md).
 * Skipped, with a message, unless KAFKA_CLUSTER_BROKERS, OPENSEARCH_CLUSTER_NODES and
 * REDIS_CLUSTER_SENTINELS are set (`node services/cli.mjs up --cluster`, `. .services/env`).
 */
import { isDeepStrictEqual } from 'node:util'
import { createSearchClient } from '@ayala/search'
import { clusterAddresses, freePorts, killNode, restartNode } from '@ayala/testkit'
import { Redis } from 'ioredis'
import { type Admin, Kafka, logLevel } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { searchClientOptions } from '../../src/config.ts'
import type { InvoiceView } from '../../src/invoices/invoice.ts'
import { type AppProcess, startAppProcess } from '../helpers/app-process.ts'
import { provisionDataset, type TestDataset } from '../helpers/dataset.ts'

const what = 'three instances of the example on the clusters'
const brokers = clusterAddresses('KAFKA_CLUSTER_BROKERS', what)
const searchNodes = clusterAddresses('OPENSEARCH_CLUSTER_NODES', what)
const sentinels = clusterAddresses('REDIS_CLUSTER_SENTINELS', what)
const redisNodes = clusterAddresses('REDIS_CLUSTER_NODES', what)
const ready = brokers.length > 0 && searchNodes.length > 0 && sentinels.length > 0 && redisNodes.length > 0

const INVOICES = 200
/** The invoices written (and read): all three instances hold them in L1. */
const HOT = 24
const WRITERS = 3
const WRITE_PAUSE_MS = 40
/** A request not answered within this counts as failed (hung). */
const HANG_MS = 10_000
const STATUSES = ['draft', 'issued', 'paid', 'overdue', 'cancelled'] as const

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Poll `check` until it holds or `timeoutMs` passes; returns whether it held. */
async function until(check: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check().catch(() => false)) return true
    if (Date.now() > deadline) return false
    await sleep(everyMs)
  }
}

/** The paced load and what it counted. */
class Load {
  /** Per invoice, the version every instance has served since its PATCH was acknowledged. */
  readonly converged = new Map<number, number>()
  /** Per instance and invoice, the highest version that instance has served. */
  private readonly served = new Map<string, number>()
  /** Per invoice, the version of the last acknowledged PATCH. */
  private readonly acked = new Map<number, number>()
  reads = 0
  readFailures = 0
  writes = 0
  writeFailures = 0
  /** The writing instance read right after its acknowledged PATCH, older than what it wrote. */
  writerStale = 0
  /** A read started after every instance had served a version, older than it. */
  staleAfterConvergence = 0
  /** A read on an instance older than one that instance served before the read started. */
  regressions = 0
  /** Reads on the two other instances right after the acknowledgment, before the bus notice landed. */
  busWindowReads = 0
  busWindowStale = 0
  /** Per `Cache-Coherence` of the write (`confirmed` by all, `partial`, `unconfirmed`, `deferred`): writes, and stale bus-window reads after them. */
  readonly coherence = new Map<string, { writes: number; stale: number }>()
  /** Stale bus-window reads after a write whose response said `confirmed` by all three (each described). */
  readonly staleAfterConfirmed: string[] = []
  /** Acknowledged writes and the slowest wait until all three served them (ms). */
  convergences = 0
  slowestConvergenceMs = 0
  notConverged = 0
  readonly failures: string[] = []
  readonly staleSeen: string[] = []
  /** Counters of the failover window (between the kill and the recovery). */
  window = { on: false, reads: 0, writes: 0, failed: 0 }
  private running = false
  private loops: Promise<void>[] = []

  constructor(private readonly apps: readonly AppProcess[]) {}

  private failed(what: string): void {
    if (this.window.on) this.window.failed++
    if (this.failures.length < 10) this.failures.push(what)
  }

  private stale(what: string): void {
    if (this.staleSeen.length < 10) this.staleSeen.push(what)
  }

  /** GET /invoices/:id through `app`: the view, or undefined (counted as failed). */
  async read(app: AppProcess, id: number): Promise<InvoiceView | undefined> {
    const floor = this.converged.get(id) ?? 0
    const mine = `${app.name}#${id}`
    const before = this.served.get(mine) ?? 0
    this.reads++
    if (this.window.on) this.window.reads++
    try {
      const response = await fetch(`${app.url}/invoices/${id}`, { signal: AbortSignal.timeout(HANG_MS) })
      const text = await response.text()
      if (response.status !== 200) {
        this.readFailures++
        this.failed(`GET ${app.name} /invoices/${id}: ${response.status} ${text.slice(0, 200)}`)
        return undefined
      }
      const view = JSON.parse(text) as InvoiceView
      if (view.version < floor) {
        this.staleAfterConvergence++
        this.stale(`${app.name} #${id}: v${view.version} after all three served v${floor}`)
      }
      if (view.version < before) {
        this.regressions++
        this.stale(`${app.name} #${id}: v${view.version} after it served v${before}`)
      }
      if (view.version > before) this.served.set(mine, view.version)
      return view
    } catch (error) {
      this.readFailures++
      this.failed(`GET ${app.name} /invoices/${id}: ${String(error)}`)
      return undefined
    }
  }

  /** The counters of the `Cache-Coherence` kind `kind`. */
  private kind(kind: string): { writes: number; stale: number } {
    const counts = this.coherence.get(kind) ?? { writes: 0, stale: 0 }
    this.coherence.set(kind, counts)
    return counts
  }

  /** `confirmed=n/stale,...`: the writes of each `Cache-Coherence` kind and the stale bus-window reads after them. */
  coherenceLine(): string {
    return [...this.coherence].map(([kind, c]) => `${kind}=${c.writes}/${c.stale}`).join(',')
  }

  /** PATCH through `app`: the version written and the response's `Cache-Coherence`, or undefined (counted as failed). */
  private async write(
    app: AppProcess,
    id: number,
    n: number,
  ): Promise<{ version: number; coherence: string } | undefined> {
    this.writes++
    if (this.window.on) this.window.writes++
    try {
      const response = await fetch(`${app.url}/invoices/${id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          status: STATUSES[(id + n) % STATUSES.length],
          description: `Revisión ${n} del mantenimiento ${id} (${app.name})`,
        }),
        signal: AbortSignal.timeout(HANG_MS),
      })
      const text = await response.text()
      if (response.status !== 200) {
        this.writeFailures++
        this.failed(`PATCH ${app.name} /invoices/${id}: ${response.status} ${text.slice(0, 200)}`)
        return undefined
      }
      const coherence = response.headers.get('cache-coherence')
      if (coherence === null) {
        this.writeFailures++
        this.failed(`PATCH ${app.name} /invoices/${id}: no Cache-Coherence header`)
        return undefined
      }
      return { version: (JSON.parse(text) as InvoiceView).version, coherence }
    } catch (error) {
      this.writeFailures++
      this.failed(`PATCH ${app.name} /invoices/${id}: ${String(error)}`)
      return undefined
    }
  }

  /**
   * After an acknowledged PATCH of `id` at `version` through `writer`: the writer serves it at
   * once; each other instance is read at once (counted: the bus notice may not have landed yet),
   * then until it serves it (10 s at most); then every read anywhere must see it.
   */
  private async converge(writer: AppProcess, id: number, version: number, coherence: string): Promise<void> {
    const t0 = performance.now()
    // `confirmed` by all three; `confirmed` by fewer: an instance whose bus was reconnecting
    // (a failover) was not subscribed, so not counted by PUBLISH (its L1 is demoted meanwhile).
    const all = coherence === `confirmed; receivers=${this.apps.length}`
    const kind = this.kind(
      all ? 'confirmed' : coherence.startsWith('confirmed') ? 'partial' : (coherence.split(';')[0] as string),
    )
    kind.writes++
    const own = await this.read(writer, id)
    if (own !== undefined && own.version < version) {
      this.writerStale++
      this.stale(`${writer.name} #${id}: v${own.version} right after it acknowledged v${version}`)
    }
    const others = this.apps.filter((app) => app !== writer)
    const done = await Promise.all(
      others.map(async (app) => {
        const first = await this.read(app, id)
        this.busWindowReads++
        if (first !== undefined && first.version >= version) return true
        if (first !== undefined) {
          this.busWindowStale++
          kind.stale++
          if (all && this.staleAfterConfirmed.length < 10)
            this.staleAfterConfirmed.push(
              `${app.name} #${id}: v${first.version} after ${writer.name} answered v${version} (${coherence})`,
            )
        }
        return until(async () => ((await this.read(app, id))?.version ?? 0) >= version, 10_000, 2)
      }),
    )
    if (!done.every(Boolean)) {
      this.notConverged++
      this.stale(`#${id} v${version} not served by every instance within 10 s`)
      return
    }
    this.convergences++
    this.slowestConvergenceMs = Math.max(this.slowestConvergenceMs, performance.now() - t0)
    if (version > (this.converged.get(id) ?? 0)) this.converged.set(id, version)
  }

  start(): void {
    this.running = true
    const own = (w: number) => Array.from({ length: HOT }, (_, i) => i + 1).filter((id) => id % WRITERS === w)
    const writers = Array.from({ length: WRITERS }, async (_, w) => {
      const ids = own(w)
      for (let n = 0; this.running; n++) {
        const id = ids[n % ids.length] as number
        const app = this.apps[(w + n) % this.apps.length] as AppProcess
        const written = await this.write(app, id, n)
        if (written !== undefined) {
          const { version, coherence } = written
          if (version <= (this.acked.get(id) ?? 0)) this.stale(`#${id}: PATCH answered v${version} again`)
          this.acked.set(id, version)
          await this.converge(app, id, version, coherence)
        }
        await sleep(WRITE_PAUSE_MS)
      }
    })
    const readers = this.apps.map(async (app, r) => {
      for (let n = 0; this.running; n++) await this.read(app, 1 + ((r * 7 + n * 5) % HOT))
    })
    this.loops = [...writers, ...readers]
  }

  async stop(): Promise<void> {
    this.running = false
    await Promise.all(this.loops)
  }
}

describe.skipIf(!ready)(what, () => {
  const env = {
    KAFKA_BROKERS: brokers.join(','),
    SEARCH_NODES: searchNodes.join(','),
    REDIS_SENTINELS: sentinels.join(','),
    REDIS_SENTINEL_NAME: process.env.REDIS_CLUSTER_SENTINEL_NAME || 'ayala',
    // One replica per shard: a search node's loss leaves a copy of every shard.
    INVOICE_INDEX_REPLICAS: '1',
  }
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]))
  let dataset: TestDataset
  let apps: AppProcess[] = []
  let admin: Admin | undefined
  let down: string | undefined

  const healthy = async (app: AppProcess) => {
    const response = await fetch(`${app.url}/health`, { signal: AbortSignal.timeout(HANG_MS) })
    await response.arrayBuffer()
    return response.status === 200
  }
  const allHealthy = async () => (await Promise.all(apps.map(healthy))).every(Boolean)

  beforeAll(async () => {
    // The seed (in this process) writes to the clusters too: the index with its replica, the
    // topic on the three brokers, Redis through the Sentinels.
    Object.assign(process.env, env)
    dataset = await provisionDataset('cluster', INVOICES)
    const ports = await freePorts(3)
    const instance = (name: string, port: number, extra: NodeJS.ProcessEnv = {}) =>
      startAppProcess(name, port, { ...env, INVOICING_DATABASE_URL: dataset.addresses.databaseUrl, ...extra })
    apps = await Promise.all([
      instance('cluster-a', ports[0] as number),
      instance('cluster-b', ports[1] as number),
      instance('cluster-c', ports[2] as number, { INVOICING_AGGREGATOR: 'off' }),
    ])
    // Both aggregators joined the group and applied the seeded events; every check is up.
    expect(await until(allHealthy, 120_000, 500)).toBe(true)
    admin = new Kafka({ clientId: 'cluster-three-instances', brokers, logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
  }, 240_000)

  afterAll(async () => {
    if (down)
      await restartNode(down).catch((error: unknown) => console.warn(`restart of ${down} failed`, error))
    await admin?.disconnect()
    await Promise.all(apps.map((app) => app.stop()))
    await dataset?.dispose()
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }, 240_000)

  /**
   * Once the load stopped: the outbox drained, then each copy equals SQL (see the file's note).
   * Returns how long the copies took to converge.
   */
  async function copiesEqualSql(): Promise<{ convergedMs: number }> {
    const { db, sql, names, addresses } = dataset
    const t0 = Date.now()
    const outbox = async (where: string) => {
      const [row] = (await db.prisma.$queryRawUnsafe(
        `SELECT COUNT(*) AS n FROM \`${names.outboxTable}\` WHERE ${where}`,
      )) as Array<{ n: bigint | number }>
      return Number(row?.n ?? 0)
    }
    expect(await until(async () => (await outbox('dead_at IS NULL')) === 0, 120_000)).toBe(true)
    expect(await outbox('dead_at IS NOT NULL')).toBe(0)

    // The dashboard of each instance (A and B aggregate, C reads): SQL's GROUP BY.
    const truth = await sql.sqlDashboard(db.prisma)
    const figures = (app: AppProcess) =>
      fetch(`${app.url}/dashboard`, { signal: AbortSignal.timeout(HANG_MS) }).then(
        async (response) => ((await response.json()) as { figures: unknown }).figures,
      )
    await until(async () => {
      const served = await Promise.all(apps.map(figures))
      return served.every((f) => isDeepStrictEqual(f, truth))
    }, 120_000)
    for (const app of apps)
      expect({ instance: app.name, figures: await figures(app) }).toEqual({
        instance: app.name,
        figures: truth,
      })

    // The index: every document at its row's version and status, none missing, none extra.
    const rows = await db.prisma.invoice.findMany({ select: { id: true, version: true, status: true } })
    const search = createSearchClient(searchClientOptions(addresses))
    try {
      const raw = await search.raw()
      await raw.indices.refresh({ index: names.index })
      const hits = await raw.search<{ status: string }>({
        index: names.index,
        size: INVOICES + 50,
        version: true,
      })
      const docs = new Map(hits.hits.hits.map((hit) => [Number(hit._id), hit]))
      const mismatched = rows.filter((row) => {
        const doc = docs.get(row.id)
        return doc === undefined || doc._version !== row.version || doc._source?.status !== row.status
      })
      expect({ mismatched: mismatched.map((r) => r.id), extra: docs.size - rows.length }).toEqual({
        mismatched: [],
        extra: 0,
      })
    } finally {
      await search.close()
    }

    // Every invoice through each instance: the written ones equal their row, field for field;
    // the others at their row's version.
    for (const app of apps) {
      for (const row of rows) {
        const response = await fetch(`${app.url}/invoices/${row.id}`, {
          signal: AbortSignal.timeout(HANG_MS),
        })
        expect(response.status).toBe(200)
        const served = (await response.json()) as InvoiceView
        if (row.id <= HOT) expect(served).toEqual(await sql.sqlInvoice(db.prisma, row.id))
        else expect({ id: row.id, version: served.version }).toEqual({ id: row.id, version: row.version })
      }
    }
    return { convergedMs: Date.now() - t0 }
  }

  function expectClean(load: Load): void {
    expect(load.failures).toEqual([])
    expect(load.staleSeen).toEqual([])
    // A write that answered `confirmed` is served by every instance at once.
    expect(load.staleAfterConfirmed).toEqual([])
    expect(load.coherence.get('confirmed')?.writes ?? 0).toBeGreaterThan(0)
    expect({
      writerStale: load.writerStale,
      staleAfterConvergence: load.staleAfterConvergence,
      regressions: load.regressions,
      notConverged: load.notConverged,
      readFailures: load.readFailures,
      writeFailures: load.writeFailures,
    }).toEqual({
      writerStale: 0,
      staleAfterConvergence: 0,
      regressions: 0,
      notConverged: 0,
      readFailures: 0,
      writeFailures: 0,
    })
    expect(load.writes).toBeGreaterThan(10)
    expect(load.convergences).toBe(load.writes - load.writeFailures)
  }

  const summary = (phase: string, load: Load, extra: string) =>
    console.info(
      `[three-instances] phase=${phase} reads=${load.reads} writes=${load.writes} read_failed=${load.readFailures} write_failed=${load.writeFailures} writer_stale=${load.writerStale} stale_after_convergence=${load.staleAfterConvergence} regressions=${load.regressions} bus_window_stale=${load.busWindowStale}/${load.busWindowReads} coherence=${load.coherenceLine()} stale_after_confirmed=${JSON.stringify(load.staleAfterConfirmed)} slowest_convergence_ms=${load.slowestConvergenceMs.toFixed(0)} ${extra} rss_mb=${apps.map((app) => `${app.name}:${app.rssMb()}`).join(',')}`,
    )

  it('an update through any instance is served fresh by all three; the dashboard and the index equal SQL', async () => {
    const load = new Load(apps)
    load.start()
    await sleep(6_000)
    await load.stop()
    expectClean(load)
    expect(load.busWindowReads).toBeGreaterThan(10)
    const { convergedMs } = await copiesEqualSql()
    summary('steady', load, `converged_ms=${convergedMs}`)
  }, 240_000)

  it('the Redis primary SIGKILLed under the load: served throughout, fresh, figures exact', async () => {
    const [host, port] = (sentinels[0] as string).split(':') as [string, string]
    const sentinel = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 1 })
    sentinel.on('error', () => undefined)
    const primary = async () =>
      `${host}:${((await sentinel.call('SENTINEL', 'get-master-addr-by-name', env.REDIS_SENTINEL_NAME)) as string[])[1]}`
    try {
      await sentinel.connect()
      const before = await primary()
      const victim = `redis-${redisNodes.indexOf(before) + 1}`
      expect(redisNodes).toContain(before)

      const load = new Load(apps)
      load.start()
      await sleep(2_000)
      load.window.on = true
      const killedAt = Date.now()
      await killNode(victim)
      down = victim
      expect(await until(async () => (await primary()) !== before, 60_000, 100)).toBe(true)
      const promotedAt = Date.now()
      // Every instance healthy again: cache, bus, aggregators and health check on the new primary.
      expect(await until(allHealthy, 60_000, 250)).toBe(true)
      const recoveredAt = Date.now()
      load.window.on = false
      await sleep(2_000)
      // The old primary back, as a replica of the promoted node (the harness waits until the
      // Sentinels list it healthy), the load still running.
      const restartedAt = Date.now()
      await restartNode(victim)
      down = undefined
      const backAt = Date.now()
      await sleep(1_000)
      await load.stop()
      expectClean(load)
      expect(load.window.reads).toBeGreaterThan(0)
      const { convergedMs } = await copiesEqualSql()
      summary(
        'redis-primary-killed',
        load,
        `killed=${victim} promoted=${await primary()} promoted_after_ms=${promotedAt - killedAt} all_healthy_after_ms=${recoveredAt - killedAt} during_failover_reads=${load.window.reads} during_failover_writes=${load.window.writes} during_failover_failed=${load.window.failed} replica_back_ms=${backAt - restartedAt} converged_ms=${convergedMs}`,
      )
    } finally {
      sentinel.disconnect()
    }
  }, 240_000)

  it('the leader of partition 0 of the events topic SIGKILLed and restarted under the load: figures exact', async () => {
    if (admin === undefined) throw new Error('no admin')
    const topic = dataset.names.topic
    const partitions = async () =>
      (await admin?.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined))?.topics[0]?.partitions ??
      []
    const before = await partitions()
    const victimId = before.find((p) => p.partitionId === 0)?.leader as number
    expect(victimId).toBeGreaterThan(0)
    const victim = `kafka-${victimId}`
    const led = before.filter((p) => p.leader === victimId).map((p) => p.partitionId)

    const load = new Load(apps)
    load.start()
    await sleep(2_000)
    load.window.on = true
    const killedAt = Date.now()
    await killNode(victim)
    down = victim
    expect(
      await until(
        async () => {
          const now = await partitions()
          return now.length === before.length && now.every((p) => p.leader >= 0 && p.leader !== victimId)
        },
        60_000,
        250,
      ),
    ).toBe(true)
    const electedAt = Date.now()
    await sleep(2_000)
    const restartedAt = Date.now()
    await restartNode(victim)
    down = undefined
    const backAt = Date.now()
    expect(
      await until(
        async () => {
          const now = await partitions()
          return now.length === before.length && now.every((p) => p.isr.length === 3)
        },
        120_000,
        500,
      ),
    ).toBe(true)
    const inSyncAt = Date.now()
    load.window.on = false
    await load.stop()
    expectClean(load)
    const { convergedMs } = await copiesEqualSql()
    summary(
      'kafka-leader-killed',
      load,
      `killed=${victim} led_partitions=${led.join('/')} leaders_moved_after_ms=${electedAt - killedAt} restart_ms=${backAt - restartedAt} isr3_after_restart_ms=${inSyncAt - restartedAt} during_failover_reads=${load.window.reads} during_failover_writes=${load.window.writes} during_failover_failed=${load.window.failed} converged_ms=${convergedMs}`,
    )
  }, 300_000)
})
