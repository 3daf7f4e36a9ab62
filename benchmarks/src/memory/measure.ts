/**
 * Starting one memory measurement (`child.ts`) in a fresh `node --expose-gc` process and reading
 * its figures; the memory scenarios' shared helpers (MB formatting, the result rows).
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { emptyRow, type ResultRow } from '../report.js'
import type { MemoryFigures, MemoryJob, Reading } from './child.js'

const CHILD_FILE = join(import.meta.dirname, 'child.ts')

/** 1 MiB. */
export const MB = 1024 * 1024

/** Run `job` in a process of its own; rejects with the child's error. */
export function measure(job: MemoryJob): Promise<MemoryFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', CHILD_FILE, JSON.stringify(job)],
      {
        env: { ...process.env, NODE_NO_WARNINGS: '1' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    let out = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      out += chunk
    })
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      const last = out.trim().split('\n').at(-1) ?? ''
      try {
        const parsed = JSON.parse(last) as MemoryFigures & { error?: string }
        if (parsed.error) reject(new Error(parsed.error))
        else resolve(parsed)
      } catch {
        reject(new Error(`memory child exited with ${code ?? signal} and no figures: ${out.slice(-500)}`))
      }
    })
  })
}

/** `after - before`, field by field. */
export function delta(a: Reading, b: Reading): Reading {
  return { heapUsed: b.heapUsed - a.heapUsed, external: b.external - a.external, rss: b.rss - a.rss }
}

/** Megabytes with one decimal. */
export function mb(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / MB).toFixed(1) : '-'
}

/**
 * A memory row: the figure compared is `heapUsed` (its ratio to the baseline row's goes in
 * `ratioToBaseline`, and so into the regression report); time columns are empty.
 */
export function memoryRow(name: string, heapBytes: number, note: string): ResultRow {
  return {
    name,
    p50Us: Number.NaN,
    p99Us: Number.NaN,
    opsPerSec: Number.NaN,
    ratioToBaseline: Number.NaN,
    status: 'ok',
    note,
    heapBytes,
  }
}

/** Fill `ratioToBaseline` from the `heapBytes` of the row named `baseline`. */
export function heapRatios(rows: ResultRow[], baseline: string): ResultRow[] {
  const heapOf = (row: ResultRow) => row.heapBytes ?? Number.NaN
  const base = rows.find((row) => row.name === baseline)
  for (const row of rows) row.ratioToBaseline = base ? heapOf(row) / heapOf(base) : Number.NaN
  return rows
}

/** A failed measurement as an error row (the run goes on). */
export function failedRow(name: string, error: unknown): ResultRow {
  return emptyRow(name, 'error', (error as Error).message.split('\n')[0] ?? String(error))
}
