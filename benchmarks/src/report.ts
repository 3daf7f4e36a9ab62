/**
 * Benchmark results as JSON and as a markdown table, stamped with the date, Node version, CPU and
 * commit, under `benchmarks/results/`. Every scenario reports ratios against a baseline measured
 * in the same process run, since absolute figures on a shared 2-core VM are noisy.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import type { Bench } from 'tinybench'

/** One row of a scenario's result table. */
export interface ResultRow {
  name: string
  p50Us: number
  p99Us: number
  opsPerSec: number
  /** p50 of this row divided by p50 of the scenario's baseline row. */
  ratioToBaseline: number
}

/** Where and when a result was measured. */
export interface Stamp {
  date: string
  node: string
  cpu: string
  commit: string
}

export function stamp(): Stamp {
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
  } catch {
    commit = 'unknown (not a git checkout)'
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus()[0]?.model ?? 'unknown'} x${cpus().length}`,
    commit,
  }
}

/** Rows of a finished tinybench run, with ratios against the task named `baseline`. */
export function rows(bench: Bench, baseline: string): ResultRow[] {
  const base = bench.tasks.find((task) => task.name === baseline)
  const baseP50 = base?.result && 'latency' in base.result ? base.result.latency.p50 : undefined
  return bench.tasks.map((task) => {
    const result = task.result
    if (!result || !('latency' in result)) throw new Error(`Task ${task.name} did not complete`)
    const p50 = result.latency.p50 ?? Number.NaN
    return {
      name: task.name,
      p50Us: p50 * 1_000,
      p99Us: (result.latency.p99 ?? Number.NaN) * 1_000,
      opsPerSec: result.throughput.mean,
      ratioToBaseline: baseP50 ? p50 / baseP50 : Number.NaN,
    }
  })
}

function markdown(title: string, meta: Stamp, data: ResultRow[], baseline: string): string {
  const lines = [
    `## ${title}`,
    '',
    `${meta.date} · Node ${meta.node} · ${meta.cpu} · commit ${meta.commit}`,
    '',
    `| contender | p50 (us) | p99 (us) | ops/s | p50 / ${baseline} |`,
    '|---|---:|---:|---:|---:|',
    ...data.map(
      (row) =>
        `| ${row.name} | ${row.p50Us.toFixed(2)} | ${row.p99Us.toFixed(2)} | ${Math.round(row.opsPerSec).toLocaleString('en')} | ${row.ratioToBaseline.toFixed(2)}x |`,
    ),
    '',
  ]
  return lines.join('\n')
}

/** Write `results/<scenario>.json` and `results/<scenario>.md`, and print the table. */
export function writeResult(scenario: string, title: string, data: ResultRow[], baseline: string): void {
  const meta = stamp()
  const dir = join(import.meta.dirname, '..', 'results')
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, `${scenario}.json`),
    `${JSON.stringify({ ...meta, scenario, baseline, rows: data }, null, 2)}\n`,
  )
  const table = markdown(title, meta, data, baseline)
  writeFileSync(join(dir, `${scenario}.md`), table)
  console.log(table)
}
