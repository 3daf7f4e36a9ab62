/**
 * Benchmark results as JSON and as a markdown table, stamped with the date, Node version, CPU and
 * commit, under `benchmarks/results/`. Every scenario reports ratios against a baseline measured
 * in the same process run, since absolute figures on a shared 2-core VM are noisy.
 *
 * `--quick` (CI smoke mode) shortens every task and writes to a temporary folder instead, so a
 * quick run never overwrites the committed results.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Bench, BenchOptions } from 'tinybench'

/** How a row was obtained. */
export type RowStatus = 'ok' | 'error' | 'missing' | 'unsupported'

/** One row of a scenario's result table. */
export interface ResultRow {
  name: string
  /** `NaN` unless `status` is `ok`. */
  p50Us: number
  p99Us: number
  /** Calls per second: measured iterations / total measured time. */
  opsPerSec: number
  /** p50 of this row divided by p50 of the scenario's baseline row. */
  ratioToBaseline: number
  /** Measured iterations (samples). */
  samples?: number | undefined
  /** `ok` when absent. */
  status?: RowStatus | undefined
  /** Why the row has no figures (`error`, `missing`, `unsupported`). */
  error?: string | undefined
  /** Redis commands per call, counted by a proxy in an untimed pass. */
  commandsPerCall?: number | undefined
  /** Redis round trips per call, counted by a proxy in an untimed pass. */
  roundTripsPerCall?: number | undefined
  note?: string | undefined
  /** Memory scenarios: the bytes compared (their `ratioToBaseline` is heap / heap). */
  heapBytes?: number | undefined
}

/** A goal of the issue, checked against this run's ratios (reported, never asserted). */
export interface Goal {
  goal: string
  /** e.g. `1.42x` or `1 round trip`. */
  measured: string
  target: string
  /** `undefined`: could not be computed in this run (a contender missing or errored). */
  met: boolean | undefined
}

/** Extra content of a scenario's report. */
export interface ResultExtras {
  /** What the scenario measures, one paragraph. */
  description?: string | undefined
  goals?: Goal[] | undefined
  notes?: string[] | undefined
  /** Markdown appended after the notes (e.g. a time series). */
  appendix?: string | undefined
  /** Extra figures kept in the JSON only, under `data`. */
  data?: Record<string, unknown> | undefined
}

/** Where and when a result was measured. */
export interface Stamp {
  date: string
  node: string
  cpu: string
  commit: string
  /** `quick` (CI smoke, short tasks) or `full`. */
  mode: 'quick' | 'full'
}

/** Options of this run, set once by `run.ts` from the command line. */
export interface RunConfig {
  quick: boolean
  resultsDir: string
}

const config: RunConfig = {
  quick: false,
  resultsDir: join(import.meta.dirname, '..', 'results'),
}

/** Switch to quick mode: short tasks, results in a temporary folder. */
export function configureRun(options: { quick: boolean }): RunConfig {
  config.quick = options.quick
  if (options.quick) config.resultsDir = join(tmpdir(), 'ayala-bench-quick')
  return config
}

/** The run's configuration. */
export function runConfig(): Readonly<RunConfig> {
  return config
}

/**
 * tinybench time budgets: 1.5 s (+0.3 s warm-up) per task in a full run, 100 ms (+30 ms) in quick
 * mode. Sequential (no concurrency): each iteration awaits the previous one.
 */
export function benchOptions(): BenchOptions {
  return config.quick
    ? { time: 100, warmupTime: 30, iterations: 5, warmupIterations: 5, throws: false }
    : { time: 1_500, warmupTime: 300, throws: false }
}

/**
 * How the cache scenarios spend their time: `rounds` short tinybench runs of every task, task
 * order rotated each round, samples merged. On a shared, loaded machine this interleaving puts
 * every contender under the same load drift, which one long block per task does not.
 */
export interface RoundsPlan {
  rounds: number
  /** Minimum samples per task per round (slow tasks stop there even past `time`). */
  iterations: number
  /** tinybench `time` per task per round, ms. */
  time: number
  /** Warm-up per task in the first round, ms (later rounds: a tenth of it). */
  warmupTime: number
}

/** 8 rounds x 250 ms per task (2 s in all) in a full run; 2 x 50 ms in quick mode. */
export function roundsPlan(): RoundsPlan {
  return config.quick
    ? { rounds: 2, time: 50, warmupTime: 20, iterations: 5 }
    : { rounds: 8, time: 250, warmupTime: 300, iterations: 16 }
}

/** Percentile `q` (0..1) of ascending `sorted` samples, linear interpolation. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const position = (sorted.length - 1) * q
  const lower = Math.floor(position)
  const upper = Math.ceil(position)
  const a = sorted[lower] as number
  const b = sorted[upper] as number
  return a + (b - a) * (position - lower)
}

/** A row from latency samples in milliseconds (any order). */
export function rowFromSamples(name: string, samplesMs: number[]): ResultRow {
  const sorted = [...samplesMs].sort((a, b) => a - b)
  let sum = 0
  for (const sample of sorted) sum += sample
  return {
    name,
    p50Us: percentile(sorted, 0.5) * 1_000,
    p99Us: percentile(sorted, 0.99) * 1_000,
    opsPerSec: sum > 0 ? (1_000 * sorted.length) / sum : Number.NaN,
    ratioToBaseline: Number.NaN,
    samples: sorted.length,
    status: 'ok',
  }
}

/** Date, Node version, CPU model and count, short commit hash, and the run mode. */
export function stamp(): Stamp {
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
  } catch (error) {
    commit = `unknown (${(error as Error).message.split('\n')[0]})`
  }
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus()[0]?.model?.trim() ?? 'unknown'} x${cpus().length}`,
    commit,
    mode: config.quick ? 'quick' : 'full',
  }
}

/** A row without figures: the contender failed, is missing, or lacks the feature. */
export function emptyRow(name: string, status: Exclude<RowStatus, 'ok'>, error: string): ResultRow {
  return {
    name,
    p50Us: Number.NaN,
    p99Us: Number.NaN,
    opsPerSec: Number.NaN,
    ratioToBaseline: Number.NaN,
    status,
    error,
  }
}

/**
 * Rows of a finished tinybench run, with ratios against the task named `baseline`. A task that
 * threw becomes an `error` row instead of failing the run.
 */
export function rows(bench: Bench, baseline: string): ResultRow[] {
  const out = bench.tasks.map((task): ResultRow => {
    const result = task.result
    if (result.state === 'errored') return emptyRow(task.name, 'error', result.error.message)
    if (!('latency' in result)) return emptyRow(task.name, 'error', `task ended as ${result.state}`)
    return {
      name: task.name,
      p50Us: (result.latency.p50 ?? Number.NaN) * 1_000,
      p99Us: (result.latency.p99 ?? Number.NaN) * 1_000,
      opsPerSec: result.period > 0 ? 1_000 / result.period : Number.NaN,
      ratioToBaseline: Number.NaN,
      samples: result.latency.samplesCount,
      status: 'ok',
    }
  })
  return withRatios(out, baseline)
}

/** Fill `ratioToBaseline` of every row from the row named `baseline`. */
export function withRatios(data: ResultRow[], baseline: string): ResultRow[] {
  const base = data.find((row) => row.name === baseline)
  const baseP50 = base && (base.status ?? 'ok') === 'ok' ? base.p50Us : Number.NaN
  for (const row of data) row.ratioToBaseline = row.p50Us / baseP50
  return data
}

/** p50 of row `a` divided by p50 of row `b`; `NaN` if either has no figures. */
export function p50Ratio(data: readonly ResultRow[], a: string, b: string): number {
  const ra = data.find((row) => row.name === a)
  const rb = data.find((row) => row.name === b)
  return ra && rb ? ra.p50Us / rb.p50Us : Number.NaN
}

/** A ratio goal: `measured <= target` (or `>=` with `atLeast`). */
export function ratioGoal(goal: string, measured: number, target: number, atLeast = false): Goal {
  const ok = Number.isFinite(measured)
  return {
    goal,
    measured: ok ? `${measured.toFixed(2)}x` : 'n/a',
    target: `${atLeast ? '>=' : '<='} ${target}x`,
    met: ok ? (atLeast ? measured >= target : measured <= target) : undefined,
  }
}

function num(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits)
}

function cell(row: ResultRow): string {
  const parts: string[] = []
  if (row.status && row.status !== 'ok') parts.push(`**${row.status}**: ${row.error ?? ''}`)
  if (row.note) parts.push(row.note)
  return parts.join('; ').replaceAll('|', '\\|').replaceAll('\n', ' ')
}

/**
 * A ratio as the tables print it: two decimals, or, below 0.01 (a served path thousands of times
 * faster than its SQL baseline), three significant digits so that the cell never reads `0.00x`.
 */
function ratioCell(ratio: number): string {
  if (!Number.isFinite(ratio)) return '-'
  return ratio >= 0.01 || ratio === 0 ? `${ratio.toFixed(2)}x` : `${ratio.toPrecision(3)}x`
}

/** The markdown of one scenario result. */
export function markdown(
  title: string,
  meta: Stamp,
  data: readonly ResultRow[],
  baseline: string,
  extras: ResultExtras = {},
): string {
  const traffic = data.some((row) => row.commandsPerCall !== undefined)
  const header = traffic
    ? `| contender | p50 (us) | p99 (us) | ops/s | p50 / baseline | Redis cmds/call | round trips/call | notes |`
    : `| contender | p50 (us) | p99 (us) | ops/s | p50 / baseline | notes |`
  const lines = [
    `## ${title}`,
    '',
    `${meta.date} · Node ${meta.node} · ${meta.cpu} · commit ${meta.commit}${meta.mode === 'quick' ? ' · QUICK MODE (smoke run, figures not comparable)' : ''}`,
    '',
    ...(extras.description ? [extras.description, ''] : []),
    `Baseline: ${baseline}.`,
    '',
    header,
    traffic ? '|---|---:|---:|---:|---:|---:|---:|---|' : '|---|---:|---:|---:|---:|---|',
    ...data.map((row) => {
      const figures = [
        row.name,
        num(row.p50Us, 2),
        num(row.p99Us, 2),
        Number.isFinite(row.opsPerSec) ? Math.round(row.opsPerSec).toLocaleString('en') : '-',
        ratioCell(row.ratioToBaseline),
      ]
      if (traffic) figures.push(num(row.commandsPerCall, 1), num(row.roundTripsPerCall, 1))
      figures.push(cell(row))
      return `| ${figures.join(' | ')} |`
    }),
    '',
  ]
  if (extras.goals?.length) {
    lines.push('| goal | measured | target | met |', '|---|---:|---:|---|')
    for (const goal of extras.goals) {
      const met = goal.met === undefined ? 'n/a' : goal.met ? 'yes' : '**no**'
      lines.push(`| ${goal.goal} | ${goal.measured} | ${goal.target} | ${met} |`)
    }
    lines.push('')
  }
  for (const note of extras.notes ?? []) lines.push(`- ${note}`)
  if (extras.notes?.length) lines.push('')
  if (extras.appendix) lines.push(extras.appendix, '')
  return lines.join('\n')
}

/** Everything written for one scenario. */
export interface ScenarioResult extends Stamp {
  scenario: string
  title: string
  baseline: string
  rows: ResultRow[]
  goals: Goal[]
  notes: string[]
  description?: string | undefined
  /** See {@link ResultExtras.appendix}. */
  appendix?: string | undefined
  /** See {@link ResultExtras.data}. */
  data?: Record<string, unknown> | undefined
}

/**
 * Every result written in this process, in order (a scenario may write several): what the
 * regression report of `run.ts` compares with the baselines.
 */
export const writtenResults: ScenarioResult[] = []

/** Write `<results>/<scenario>.json` and `.md`, and print the table. */
export function writeResult(
  scenario: string,
  title: string,
  data: ResultRow[],
  baseline: string,
  extras: ResultExtras = {},
): ScenarioResult {
  const meta = stamp()
  mkdirSync(config.resultsDir, { recursive: true })
  const result: ScenarioResult = {
    ...meta,
    scenario,
    title,
    baseline,
    rows: data,
    goals: extras.goals ?? [],
    notes: extras.notes ?? [],
    description: extras.description,
    appendix: extras.appendix,
    data: extras.data,
  }
  writeFileSync(join(config.resultsDir, `${scenario}.json`), `${JSON.stringify(result, null, 2)}\n`)
  const table = markdown(title, meta, data, baseline, extras)
  writeFileSync(join(config.resultsDir, `${scenario}.md`), table)
  console.log(table)
  writtenResults.push(result)
  return result
}
