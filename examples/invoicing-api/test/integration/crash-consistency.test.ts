/**
 * Nothing committed is lost, nothing is counted twice: two instances of the invoicing API run as
 * real processes; instance A is killed with SIGKILL in the middle of bursts of concurrent PATCHes
 * (some transactions in flight, some committed and not yet relayed, some relayed and not yet
 * marked done), restarted, and killed again. Afterwards, once the copies caught up, SQL (the
 * truth) is compared with every copy: the search index (every document at its row's version),
 * the dashboard (the SQL GROUP BY, to the cent) and the cached reads of both instances (every
 * invoice equal to its row). Each mismatch is counted; every count must be 0.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createSearchClient } from '@ayala/search'
import { freePort } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { InvoiceView } from '../../src/invoices/invoice.ts'
import { EXAMPLE_ROOT, provisionDataset, type TestDataset } from '../helpers/dataset.ts'

const INVOICES = 300
const KILLS = 3
const WRITERS = 16
const STATUSES = ['draft', 'issued', 'paid', 'overdue', 'cancelled'] as const

interface Instance {
  name: string
  port: number
  child: ChildProcess
  url: string
}

/** Start `src/main.ts` as its own process (what `pnpm start` runs) and wait until it serves. */
async function startInstance(name: string, port: number, databaseUrl: string): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: EXAMPLE_ROOT,
    env: { ...process.env, INVOICING_DATABASE_URL: databaseUrl, PORT: String(port), INSTANCE_ID: name },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  let reported = 0
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString()
    // The first server errors of each instance, for diagnosis (the test fails on any 5xx).
    if (reported < 3 && /error/i.test(chunk.toString())) {
      reported++
      console.log(`[crash] ${name} stderr: ${chunk.toString().slice(0, 1_500)}`)
    }
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 90_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`instance ${name} exited at start:\n${output}`)
    const ok = await fetch(`${url}/invoices/1`)
      .then((response) => response.status === 200)
      .catch(() => false)
    if (ok) return { name, port, child, url }
    if (Date.now() > deadline) throw new Error(`instance ${name} did not serve within 90 s:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function kill(instance: Instance): Promise<void> {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null) return
  const exited = once(instance.child, 'exit')
  instance.child.kill('SIGKILL')
  await exited
}

async function stop(instance: Instance): Promise<void> {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null) return
  const exited = once(instance.child, 'exit')
  instance.child.kill('SIGTERM')
  await exited
}

/** Concurrent PATCHes against `targets` until `signal` aborts; counts outcomes. */
async function burst(targets: () => string[], signal: AbortSignal) {
  const counts = { ok: 0, conflict: 0, failed: 0, other: 0 }
  const others = new Map<string, number>()
  let n = 0
  await Promise.all(
    Array.from({ length: WRITERS }, async (_, w) => {
      while (!signal.aborted) {
        const id = 1 + Math.floor(Math.random() * INVOICES)
        const list = targets()
        const url = list[(w + n++) % list.length] as string
        const body = {
          status: STATUSES[Math.floor(Math.random() * STATUSES.length)],
          description: `Revisión ${randomBytes(3).toString('hex')} del contrato de mantenimiento`,
        }
        try {
          const response = await fetch(`${url}/invoices/${id}`, {
            method: 'PATCH',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(10_000),
          })
          const text = await response.text()
          if (response.status === 200) counts.ok++
          else if (response.status === 409) counts.conflict++
          else {
            counts.other++
            const key = `${response.status} ${text.slice(0, 200)}`
            others.set(key, (others.get(key) ?? 0) + 1)
          }
        } catch {
          // The instance was killed under this request: whether it committed is SQL's to say.
          counts.failed++
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      }
    }),
  )
  if (others.size > 0) console.log('[crash] unexpected answers:', [...others].slice(0, 5))
  return counts
}

describe('SIGKILL during bursts of writes: every copy equals SQL afterwards', () => {
  let dataset: TestDataset
  let a: Instance | undefined
  let b: Instance | undefined

  beforeAll(async () => {
    dataset = await provisionDataset('crash', INVOICES)
  }, 180_000)

  afterAll(async () => {
    for (const instance of [a, b]) if (instance) await kill(instance)
    await dataset?.dispose()
  }, 120_000)

  it(`loses nothing and counts nothing twice across ${KILLS} kills`, async () => {
    const { addresses, names, db, sql } = dataset
    const [portA, portB] = [await freePort(), await freePort()]
    a = await startInstance('crash-a', portA, addresses.databaseUrl)
    b = await startInstance('crash-b', portB, addresses.databaseUrl)
    const totals = { ok: 0, conflict: 0, failed: 0, other: 0 }
    const add = (counts: typeof totals) => {
      for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += counts[key]
    }
    for (let round = 0; round < KILLS; round++) {
      const stopBurst = new AbortController()
      const running = burst(
        () => [a?.url, b?.url].filter((u): u is string => u !== undefined),
        stopBurst.signal,
      )
      await new Promise((resolve) => setTimeout(resolve, 800 + Math.random() * 1_200))
      const killed = a
      a = undefined
      if (killed) await kill(killed)
      // B keeps taking writes while A is down.
      await new Promise((resolve) => setTimeout(resolve, 500))
      a = await startInstance('crash-a', portA, addresses.databaseUrl)
      stopBurst.abort()
      add(await running)
    }
    expect(totals.ok).toBeGreaterThan(50)
    expect(totals.other).toBe(0)

    // Catch-up: the outbox drains, then every copy must equal SQL.
    const outboxRows = async (where: string) => {
      const [row] = (await db.prisma.$queryRawUnsafe(
        `SELECT COUNT(*) AS n FROM \`${names.outboxTable}\` WHERE ${where}`,
      )) as Array<{ n: bigint | number }>
      return Number(row?.n ?? 0)
    }
    const deadline = Date.now() + 120_000
    while ((await outboxRows('dead_at IS NULL')) > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(await outboxRows('dead_at IS NULL')).toBe(0)
    expect(await outboxRows('dead_at IS NOT NULL')).toBe(0)

    const rows = await db.prisma.invoice.findMany({ select: { id: true, version: true, status: true } })
    const truth = await sql.sqlDashboard(db.prisma)

    // The dashboard: the aggregator applies the relayed events (it may still be consuming).
    let served: unknown
    const dashboardDeadline = Date.now() + 90_000
    do {
      served = ((await (await fetch(`${b.url}/dashboard`)).json()) as { figures: unknown }).figures
      if (JSON.stringify(served) === JSON.stringify(truth)) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    } while (Date.now() < dashboardDeadline)
    const dashboard = served as typeof truth
    const doubleCounted = Math.max(0, dashboard.invoices - truth.invoices)
    const lostFromDashboard = Math.max(0, truth.invoices - dashboard.invoices)

    // The index: every document at its row's version and status.
    const search = createSearchClient({ node: addresses.searchUrl })
    const raw = await search.raw()
    await raw.indices.refresh({ index: names.index })
    const hits = await raw.search<{ status: string }>({
      index: names.index,
      size: INVOICES + 10,
      version: true,
    })
    const docs = new Map(hits.hits.hits.map((hit) => [Number(hit._id), hit]))
    await search.close()
    let staleDocs = 0
    for (const row of rows) {
      const doc = docs.get(row.id)
      if (doc === undefined || doc._version !== row.version || doc._source?.status !== row.status) staleDocs++
    }

    // Cached reads, through both instances: every invoice equal to its row.
    let staleReads = 0
    for (const instance of [a, b]) {
      for (const row of rows) {
        const served = (await (await fetch(`${instance.url}/invoices/${row.id}`)).json()) as InvoiceView
        if (served.version !== row.version || served.status !== row.status) staleReads++
      }
    }

    console.log(
      `[crash] ${KILLS} SIGKILLs, writes: ${totals.ok} ok, ${totals.conflict} conflicts, ${totals.failed} cut by a kill; ` +
        `after catch-up: ${staleDocs} stale documents, dashboard ${dashboard.invoices}/${truth.invoices} invoices ` +
        `(double-counted ${doubleCounted}, lost ${lostFromDashboard}), ${staleReads} stale reads of ${rows.length * 2}`,
    )
    expect({ staleDocs, staleReads, doubleCounted, lostFromDashboard }).toEqual({
      staleDocs: 0,
      staleReads: 0,
      doubleCounted: 0,
      lostFromDashboard: 0,
    })
    expect(dashboard).toEqual(truth)
    await stop(a)
    await stop(b)
  }, 600_000)
})
