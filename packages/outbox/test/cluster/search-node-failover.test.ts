/**
 * A node of the harness's 3-node OpenSearch cluster (`node services/cli.mjs up --cluster`) is
 * SIGKILLed during searches and outbox relaying, then restarted.
 *
 * The index has 3 primaries and 1 replica each, so every shard keeps a copy on the two survivors.
 * The search client knows the three nodes; the outbox relay (search sink, MariaDB at
 * DATABASE_URL) indexes the rows' updates the whole time. The victim holds the primary of shard 0
 * (as `_cat/shards` says). Expected:
 *
 * - searches keep answering: failures at most the searches in flight when the node died, each a
 *   typed `SearchError`; every answer counts every document (no partial answer);
 * - no dead letter, and once the node is back (cluster green) and the outbox drained, the index
 *   equals the database, document for document and version for version.
 *
 * Every wait is bounded. One line of figures is printed (docs/operations.md's failover table).
 * Skipped, with a message, when OPENSEARCH_CLUSTER_NODES is not set.
 */
import { createSearchClient, defineIndex, field, type SearchClient, SearchError } from '@ayala/search'
import { clusterAddresses, killNode, restartNode, uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createOutbox, type Outbox, type OutboxRelay } from '../../src/index.ts'
import { indexEffect, searchSink } from '../../src/search.ts'
import { type DriverUnderTest, mariadbDriver } from '../helpers/databases.ts'
import { waitFor } from '../helpers/recording-sink.ts'

const nodes = clusterAddresses('OPENSEARCH_CLUSTER_NODES', 'OpenSearch node failover')

const ROWS = 300
/** Searches in flight at any time: at most this many can fail when the node dies. */
const SEARCHERS = 4
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))

describe.skipIf(nodes.length === 0)(
  'a node of a 3-node OpenSearch cluster dies during searches and relaying',
  () => {
    const docs = defineIndex({
      name: uniqueName('cluster-docs'),
      id: 'id',
      fields: { id: field.keyword(), title: field.text({ analyzer: 'standard' }), version: field.integer() },
      settings: { number_of_shards: 3, number_of_replicas: 1 },
    })
    const rows = uniqueName('cluster_docs').replace(/-/g, '_')
    let db: DriverUnderTest
    let search: SearchClient
    let outbox: Outbox
    let relay: OutboxRelay
    let killed: string | undefined

    /** GET on one live node of the cluster (the harness's nodes answer plain HTTP). */
    const cat = async (path: string): Promise<unknown> => {
      for (const node of nodes) {
        try {
          const res = await fetch(new URL(path, node), { signal: AbortSignal.timeout(3000) })
          if (res.ok) return await res.json()
        } catch {
          // that node is down: the next one answers
        }
      }
      throw new Error(`no node answered ${path}`)
    }
    const green = async () =>
      ((await cat(`/_cluster/health/${docs.name}`)) as { status: string }).status === 'green'

    beforeAll(async () => {
      db = mariadbDriver()
      search = createSearchClient({ node: nodes, engine: 'opensearch', searchTimeout: '5s' })
      await search.createIndex(docs)
      await waitFor(green, 60_000, 'the index green (3 primaries, 3 replicas)')
      await db.exec(
        `CREATE TABLE ${rows} (id INT PRIMARY KEY, version INT NOT NULL, title VARCHAR(100) NOT NULL)`,
      )
      outbox = createOutbox({ table: uniqueName('outbox').replace(/-/g, '_') })
      await outbox.ensureTable(db.pool)
      relay = outbox.relay({
        db: db.pool,
        sinks: { search: searchSink({ search }) },
        pollInterval: 50,
        retryDelay: 200,
        maxRetryDelay: '2s',
        degradedAfter: '10s',
      })
      relay.start()
    })

    afterAll(async () => {
      if (killed) await restartNode(killed).catch((error: unknown) => console.warn('restart failed', error))
      await relay?.stop()
      await search?.deleteIndex(docs.name).catch(() => undefined)
      await search?.close()
      await db?.exec(`DROP TABLE IF EXISTS ${rows}`)
      if (outbox) await db?.exec(`DROP TABLE IF EXISTS ${outbox.tableName}`)
      await db?.close()
    })

    /** One write: the row and its index effect in one transaction; `version` rises with each write. */
    async function save(id: number, title: string): Promise<void> {
      await db.transaction(async (tx, exec) => {
        await exec(
          `INSERT INTO ${rows} (id, version, title) VALUES (?, 1, ?) ON DUPLICATE KEY UPDATE version = version + 1, title = VALUES(title)`,
          [id, title],
        )
        const [row] = (await exec(`SELECT version FROM ${rows} WHERE id = ?`, [id])) as Array<{
          version: number
        }>
        const version = Number(row?.version)
        await outbox.enqueue(
          tx,
          indexEffect({
            op: 'upsert',
            index: docs.name,
            id: String(id),
            version,
            document: { id: String(id), title, version },
          }),
        )
      })
    }

    async function indexEqualsDatabase(): Promise<{ missing: number; stale: number; extra: number }> {
      const raw = await search.raw()
      await raw.indices.refresh({ index: docs.name })
      const response = await raw.search<{ title: string; version: number }>({
        index: docs.name,
        size: ROWS * 2,
        version: true,
      })
      const found = new Map(
        response.hits.hits.map((hit) => [hit._id, { version: hit._version, title: hit._source?.title }]),
      )
      const truth = await db.exec(`SELECT id, version, title FROM ${rows}`)
      let missing = 0
      let stale = 0
      for (const row of truth) {
        const doc = found.get(String(row.id))
        if (doc === undefined) missing++
        else if (doc.version !== Number(row.version) || doc.title !== row.title) stale++
      }
      return { missing, stale, extra: found.size - truth.length + missing }
    }

    it('searches keep answering from the replicas; the index equals the database after the node rejoins', async () => {
      for (let id = 1; id <= ROWS; id++) await save(id, `first ${id}`)
      await waitFor(
        async () => (await outbox.lag(db.pool)).search === undefined,
        60_000,
        'first load delivered',
      )
      await (await search.raw()).indices.refresh({ index: docs.name })

      // The load: searchers that each keep one search in flight, and a writer updating rows.
      let running = true
      const searches = { served: 0, failed: 0, partial: 0, untyped: 0, slowestMs: 0 }
      const failures: string[] = []
      const searcher = async () => {
        while (running) {
          const t = Date.now()
          try {
            const result = await search.search(docs, { size: 5, trackTotalHits: true })
            searches.served++
            if (result.total?.value !== ROWS) searches.partial++
          } catch (error) {
            searches.failed++
            if (!(error instanceof SearchError)) searches.untyped++
            failures.push(error instanceof SearchError ? `${error.code}: ${error.message}` : String(error))
          }
          searches.slowestMs = Math.max(searches.slowestMs, Date.now() - t)
        }
      }
      let writes = 0
      const writer = async () => {
        while (running) {
          const id = 1 + (writes % ROWS)
          await save(id, `update ${writes} of ${id}`)
          writes++
          await sleep(10)
        }
      }
      const load = [...Array.from({ length: SEARCHERS }, searcher), writer()]
      await sleep(1_000)

      // The victim holds the primary of shard 0.
      const shards = (await cat(`/_cat/shards/${docs.name}?format=json`)) as Array<{
        shard: string
        prirep: string
        node: string
      }>
      const victim = shards.find((s) => s.shard === '0' && s.prirep === 'p')?.node as string
      expect(nodes.length).toBe(3)
      expect(victim).toMatch(/^opensearch-\d$/)
      const manager = ((await cat('/_cat/cluster_manager?format=json')) as Array<{ node: string }>)[0]?.node
      const servedBefore = searches.served
      const killedAt = Date.now()
      await killNode(victim)
      killed = victim
      await waitFor(
        async () => ((await cat('/_cluster/health')) as { number_of_nodes: number }).number_of_nodes === 2,
        60_000,
        'the cluster to drop the dead node',
      )
      const droppedAt = Date.now()
      await sleep(5_000)
      const servedWhileDown = searches.served - servedBefore
      const restartedAt = Date.now()
      await restartNode(victim)
      killed = undefined
      const backAt = Date.now()
      await waitFor(green, 120_000, 'the index green again (the node rejoined, replicas recovered)')
      const greenAt = Date.now()
      running = false
      await Promise.all(load)

      await waitFor(
        async () => (await outbox.lag(db.pool)).search === undefined,
        60_000,
        'the outbox drained',
      )
      const drainedAt = Date.now()
      expect((await outbox.deadLetters(db.pool)).length).toBe(0)
      const compared = await indexEqualsDatabase()
      expect(compared).toEqual({ missing: 0, stale: 0, extra: 0 })
      expect(searches.untyped).toBe(0)
      expect(searches.failed, failures.join('\n')).toBeLessThanOrEqual(SEARCHERS)
      expect(searches.partial).toBe(0)
      expect(servedWhileDown).toBeGreaterThan(0)

      console.info(
        `[opensearch-failover] killed=${victim} manager=${manager} searches_served=${searches.served} served_while_down=${servedWhileDown} searches_failed=${searches.failed} partial=${searches.partial} slowest_search_ms=${searches.slowestMs} writes=${writes} dropped_after_ms=${droppedAt - killedAt} restart_ms=${backAt - restartedAt} restart_to_green_ms=${greenAt - restartedAt} drained_after_kill_ms=${drainedAt - killedAt} relay_retried=${relay.stats().search?.retried ?? 0} missing=${compared.missing} stale=${compared.stale} extra=${compared.extra}${failures.length > 0 ? ` failures=${JSON.stringify(failures)}` : ''}`,
      )
    })
  },
)
