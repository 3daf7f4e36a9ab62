/**
 * The `e2e` scenario's dataset: `count` invoices in a database of their own,
 * `ayala_invoicing_e2e_<count>` (`E2E_DATABASE` to name another), never the demo's. Seeded once
 * and reused by every later run: the example's seed is deterministic, and `reusableDataset`
 * accepts a database only when it holds exactly `count` invoices and its index (same count, same
 * mapping) and Kafka topic are there. `E2E_RESEED=1` seeds again.
 *
 * The seed is its own step, before anything is measured, with a progress bar per phase (MariaDB
 * rows, documents indexed, events produced): redrawn in place on a terminal, one line per 10%
 * otherwise (CI logs).
 */
import type { E2eExample, ResourceNames, ServiceAddresses } from './example.js'

/** A seeded (or reused) dataset. */
export interface E2eDataset {
  addresses: ServiceAddresses
  names: ResourceNames
  reused: boolean
  /** Milliseconds per seed phase (empty when reused). */
  timings: Record<string, number>
  /** Milliseconds of the whole step (check and seed). */
  ms: number
}

/** A progress bar on stderr: `[seed] database  [#########-----------]  45% 450,000/1,000,000 12.3 s`. */
export function progressBar(label: string): (phase: string, done: number, total: number) => void {
  const tty = process.stderr.isTTY === true
  const started = new Map<string, number>()
  const lastDecile = new Map<string, number>()
  return (phase, done, total) => {
    if (!started.has(phase)) started.set(phase, Date.now())
    const share = total > 0 ? Math.min(1, done / total) : 1
    const width = 30
    const filled = Math.round(share * width)
    const seconds = ((Date.now() - (started.get(phase) ?? Date.now())) / 1_000).toFixed(1)
    const line =
      `${label} ${phase.padEnd(8)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ` +
      `${String(Math.floor(share * 100)).padStart(3)}% ${done.toLocaleString('en')}/${total.toLocaleString('en')} ${seconds} s`
    if (tty) {
      process.stderr.write(`\r${line}${share >= 1 ? '\n' : ''}`)
      return
    }
    const decile = Math.floor(share * 10)
    if (decile > (lastDecile.get(phase) ?? -1)) {
      lastDecile.set(phase, decile)
      process.stderr.write(`${line}\n`)
    }
  }
}

/** Reuse or seed the dataset of `count` invoices. */
export async function ensureDataset(example: E2eExample, count: number): Promise<E2eDataset> {
  const started = Date.now()
  const url = new URL(example.serviceAddresses().databaseUrl)
  url.pathname = `/${process.env.E2E_DATABASE || `ayala_invoicing_e2e_${count}`}`
  const addresses = example.serviceAddresses({ ...process.env, INVOICING_DATABASE_URL: url.toString() })
  const log = (line: string) => console.log(`[e2e] ${line}`)
  await example.migrate(addresses.databaseUrl)
  const existing =
    process.env.E2E_RESEED === '1' ? undefined : await example.reusableDataset(addresses, count)
  if (existing !== undefined) {
    log(
      `reusing ${count.toLocaleString('en')} invoices in ${url.pathname.slice(1)} (dataset ${existing.generation}; E2E_RESEED=1 seeds again)`,
    )
    return { addresses, names: existing, reused: true, timings: {}, ms: Date.now() - started }
  }
  log(`seeding ${count.toLocaleString('en')} invoices into ${url.pathname.slice(1)} (reused by later runs)`)
  const report = await example.seed(addresses, { count, log, progress: progressBar('[e2e seed]') })
  return { addresses, names: report.names, reused: false, timings: report.timings, ms: Date.now() - started }
}
