/**
 * The dashboard on a Flink job (`INVOICING_DASHBOARD_SOURCE=flink`) equals SQL. The example runs
 * as its own process with the Flink source; the Flink SQL job (`InvoiceDashboardJob`, a local
 * MiniCluster in its own JVM, built and started through the harness as the metrics-stream Flink
 * test does) reads the example's invoice events topic and writes the count overall, count and
 * total by status, count and total per day and the top clients into upsert-kafka changelog
 * topics (exactly-once); the month figures stay with the embedded consumer, in the same view.
 *
 * 1. Before the job runs, the embedded figures (months) have caught up with the 200 seeded
 *    invoices while the Flink figures are still empty: they are not counted in the example.
 * 2. The job starts while 120 seeded-random writes go through the HTTP API (created, patched:
 *    status, lines, issue dates inside and outside the last 30 days; deleted).
 * 3. Once the outbox drained and the figures settled: every figure of GET /dashboard equals GET
 *    /dashboard?source=db (the SQL recomputation) and the reference SQL, the summary too, and the
 *    yearly report equals its SQL: 0 differences.
 */
import { isDeepStrictEqual } from 'node:util'
import { freePorts } from '@ayala/testkit'
import type { Kafka } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DashboardAnswer } from '../../src/dashboard/dashboard.service.ts'
import type { DashboardFigures } from '../../src/dashboard/summary.ts'
import { type ApiClient, apiClient, until } from '../helpers/api-client.ts'
import { type AppProcess, startAppProcess } from '../helpers/app-process.ts'
import { provisionDataset, type TestDataset } from '../helpers/dataset.ts'
import { buildFlinkJob, createChangelogTopics, type FlinkJob, startFlinkJob } from '../helpers/flink-job.ts'

const INVOICES = 200
const WRITES = 120
const DAY_MS = 86_400_000

/** mulberry32. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** The figures whose values differ between `a` and `b`. */
function differing(a: DashboardFigures, b: DashboardFigures): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof DashboardFigures>
  return [...names].filter((name) => !isDeepStrictEqual(a[name], b[name]))
}

describe('the dashboard with INVOICING_DASHBOARD_SOURCE=flink', () => {
  let dataset: TestDataset
  let kafka: Kafka
  let app: AppProcess | undefined
  let job: FlinkJob | undefined
  let api: ApiClient

  beforeAll(async () => {
    await buildFlinkJob()
    dataset = await provisionDataset('flink', INVOICES)
    const { kafkaClient } = await import('../../src/infrastructure.ts')
    kafka = kafkaClient(dataset.addresses, 'invoicing-flink-test')
    await createChangelogTopics(kafka, dataset.names)
    const [port] = await freePorts(1)
    app = await startAppProcess('flink-source', port as number, {
      INVOICING_DATABASE_URL: dataset.addresses.databaseUrl,
      INVOICING_DASHBOARD_SOURCE: 'flink',
    })
    api = apiClient(app.url)
  }, 600_000)

  afterAll(async () => {
    await job?.stop().catch(() => undefined)
    await app?.stop()
    await dataset?.dispose()
  })

  const pair = async () => ({
    stream: (await api.get<DashboardAnswer>('/dashboard')).body,
    db: (await api.get<DashboardAnswer>('/dashboard?source=db')).body,
  })

  it('equals SQL after creates, patches and deletes, with the Flink figures from the job', async () => {
    const { names, db, sql } = dataset
    // 1. The embedded month figures (the yearly report reads them) caught up with the seed; the
    // Flink-sourced ones are empty while no job runs.
    const report = async () => ({
      stream: (await api.get('/reports/monthly?year=2026')).body,
      db: (await api.get('/reports/monthly?year=2026&source=db')).body,
    })
    const reports = await until(report, ({ stream, db }) => isDeepStrictEqual(stream, db), 90_000)
    expect(reports.stream).toEqual(reports.db)
    expect(JSON.stringify(reports.db)).toMatch(/[1-9]/)
    const before = await pair()
    expect(before.db.figures.invoices).toBe(INVOICES)
    expect(before.stream.figures.invoices).toBe(0)
    expect(before.stream.figures.countByStatus).toEqual({})
    expect(before.stream.figures.topClients).toEqual([])

    // 2. The job starts while the writes go through the API.
    job = startFlinkJob(dataset.addresses, kafka, names)
    const rnd = random(18)
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS
    // Issue dates from 10 days ahead (outside the window) to 45 days back (some outside).
    const someDay = () =>
      new Date(today + 10 * DAY_MS - Math.floor(rnd() * 56) * DAY_MS).toISOString().slice(0, 10)
    const answers = new Map<string, number>()
    let next = 0
    const write = async (i: number) => {
      const roll = rnd()
      const invoiceId = 1 + Math.floor(rnd() * (INVOICES + 30))
      const day = someDay()
      const lines = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, n) => ({
        description: ['Tubería de cobre', 'Curso presencial', 'Informe de auditoría'][n] as string,
        quantity: 1 + Math.floor(rnd() * 5),
        unitPriceCents: 100 + Math.floor(rnd() * 90_000),
        taxRateBp: [0, 1000, 2100][n] as number,
      }))
      let kind: string
      let status: number
      if (roll < 0.35) {
        kind = 'create'
        status = (
          await api.post('/invoices', {
            clientId: 1 + Math.floor(rnd() * 20),
            issuedAt: day,
            dueAt: day,
            currency: ['EUR', 'USD', 'GBP'][Math.floor(rnd() * 3)],
            lines,
          })
        ).status
      } else if (roll < 0.75) {
        kind = 'patch'
        const patch = [
          { status: ['paid', 'overdue', 'cancelled', 'issued'][Math.floor(rnd() * 4)] },
          { lines },
          { issuedAt: day },
          { status: 'paid', issuedAt: day },
        ][Math.floor(rnd() * 4)]
        status = (await api.patch(`/invoices/${invoiceId}`, patch)).status
      } else {
        kind = 'delete'
        status = (await api.delete(`/invoices/${invoiceId}`)).status
      }
      const key = `${kind} ${status}`
      answers.set(key, (answers.get(key) ?? 0) + 1)
      if (![200, 201, 204, 404].includes(status)) throw new Error(`write ${i}: ${key}`)
    }
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < WRITES) await write(next++)
      }),
    )
    const succeeded = (kind: string) =>
      [...answers]
        .filter(([key]) => key.startsWith(kind) && !key.endsWith('404'))
        .reduce((n, [, c]) => n + c, 0)
    expect(succeeded('create')).toBeGreaterThan(20)
    expect(succeeded('patch')).toBeGreaterThan(20)
    expect(succeeded('delete')).toBeGreaterThan(10)

    const outbox = async () => {
      const [row] = (await db.prisma.$queryRawUnsafe(
        `SELECT COUNT(*) AS n FROM \`${names.outboxTable}\``,
      )) as Array<{ n: bigint }>
      return Number(row?.n ?? 0)
    }
    expect(await until(outbox, (n) => n === 0, 120_000)).toBe(0)

    // 3. Every figure equals SQL once the job's committed rows and the events are applied.
    const settled = await until(
      pair,
      ({ stream, db }) => differing(stream.figures, db.figures).length === 0,
      180_000,
    )
    const differences = {
      againstDbSource: differing(settled.stream.figures, settled.db.figures),
      againstReferenceSql: differing(settled.stream.figures, await sql.sqlDashboard(db.prisma)),
      summary: isDeepStrictEqual(settled.stream.summary, settled.db.summary) ? [] : ['summary'],
      report: isDeepStrictEqual(
        (await api.get('/reports/monthly?year=2026')).body,
        (await api.get('/reports/monthly?year=2026&source=db')).body,
      )
        ? []
        : ['report 2026'],
    }
    const rows = await db.prisma.invoice.count()
    console.log(
      `[flink] ${WRITES} writes (${[...answers].map(([k, n]) => `${k}: ${n}`).join(', ')}), ${rows} invoices after: ${JSON.stringify(differences)}`,
    )
    if (differences.againstDbSource.length > 0) console.error(job.log())
    expect(differences).toEqual({ againstDbSource: [], againstReferenceSql: [], summary: [], report: [] })
    // The Flink figures are not trivially equal: the window and the tops hold data.
    expect(settled.stream.figures.invoices).toBe(rows)
    expect(Object.keys(settled.stream.figures.countByDay).length).toBeGreaterThan(5)
    expect(settled.stream.figures.topClients.length).toBe(10)
  }, 480_000)
})
