/**
 * Regression report: this run's ratios against a baseline of the same mode (pure functions; the
 * files are read and written by `baseline.ts`, the report is printed by `run.ts`).
 *
 * A result's ratios are every row's `ratioToBaseline` (p50 of the row / p50 of the scenario's
 * baseline row, or heap / heap for the memory scenarios) and every goal whose measured figure is a
 * ratio (`1.42x`). Ratios, not times: a ratio measured side by side in one process run survives a
 * loaded machine far better than an absolute figure.
 *
 * Margin: a baseline holds N repeated runs of each ratio. The spread of one ratio is
 * (max - min) / median over those runs. A scenario's spread is the median of its ratios' spreads.
 * A ratio's margin is `max(floor, K x max(its spread, the scenario's spread))`, the floor
 * {@link FLOOR} of the mode. A ratio moved when `current / median` leaves
 * `[1 / (1 + margin), 1 + margin]` (symmetric on a log scale: 2x slower and 2x faster are the
 * same distance). With one run in the baseline the spread is 0 and the floor alone applies.
 */

/** Multiplier of the observed spread. */
export const K = 2

/** Smallest margin per mode: quick runs (tiny time budgets) are far noisier. */
export const FLOOR: Readonly<Record<'quick' | 'full', number>> = { quick: 0.25, full: 0.1 }

/** One ratio across the baseline's runs. */
export interface BaselineRatio {
  median: number
  min: number
  max: number
  /** (max - min) / median. */
  spread: number
  values: number[]
}

/** The committed baseline of one scenario in one mode. */
export interface Baseline {
  scenario: string
  mode: 'quick' | 'full'
  /** ISO date of the refresh. */
  date: string
  commit: string
  node: string
  cpu: string
  /** Repeated runs the ratios were taken from. */
  runs: number
  ratios: Record<string, BaselineRatio>
}

/** What a result carries that the comparison reads (a subset of `ScenarioResult`). */
export interface RatioSource {
  scenario: string
  baseline: string
  rows: readonly { name: string; ratioToBaseline: number; status?: string | undefined }[]
  goals: readonly { goal: string; measured: string }[]
  data?: Record<string, unknown> | undefined
}

/**
 * Every finite ratio of a result, by name: `<row name>` for a row (the baseline row itself, always
 * 1, is left out), `goal: <goal>` for a goal measured as `<n>x`, `<name>` for `data.ratios`.
 */
export function ratiosOf(result: RatioSource): Record<string, number> {
  const out: Record<string, number> = {}
  for (const row of result.rows) {
    if (row.name === result.baseline || (row.status ?? 'ok') !== 'ok') continue
    if (Number.isFinite(row.ratioToBaseline) && row.ratioToBaseline > 0) out[row.name] = row.ratioToBaseline
  }
  for (const goal of result.goals) {
    const match = /^(-?\d+(?:\.\d+)?)x$/.exec(goal.measured.trim())
    const value = match ? Number(match[1]) : Number.NaN
    if (Number.isFinite(value) && value > 0) out[`goal: ${goal.goal}`] = value
  }
  const extra = result.data?.ratios
  if (extra && typeof extra === 'object') {
    for (const [name, value] of Object.entries(extra as Record<string, unknown>)) {
      if (typeof value === 'number' && Number.isFinite(value) && value > 0) out[name] = value
    }
  }
  return out
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** A baseline from N repeated results of one scenario (a ratio absent from a run is skipped there). */
export function baselineFrom(
  runs: readonly (RatioSource & {
    date: string
    commit: string
    node: string
    cpu: string
    mode: 'quick' | 'full'
  })[],
): Baseline {
  const first = runs[0]
  if (!first) throw new Error('baselineFrom: no runs')
  const values: Record<string, number[]> = {}
  for (const run of runs) {
    for (const [name, value] of Object.entries(ratiosOf(run))) {
      const list = values[name] ?? []
      list.push(value)
      values[name] = list
    }
  }
  const ratios: Record<string, BaselineRatio> = {}
  for (const [name, list] of Object.entries(values)) {
    const med = median(list)
    const min = Math.min(...list)
    const max = Math.max(...list)
    ratios[name] = { median: med, min, max, spread: (max - min) / med, values: list }
  }
  const last = runs[runs.length - 1] ?? first
  return {
    scenario: first.scenario,
    mode: first.mode,
    date: last.date,
    commit: last.commit,
    node: last.node,
    cpu: last.cpu,
    runs: runs.length,
    ratios,
  }
}

/** The margin of every ratio of a scenario, and the scenario's own. */
export function margins(baseline: Baseline): { scenario: number; perRatio: Record<string, number> } {
  const floor = FLOOR[baseline.mode]
  const spreads = Object.values(baseline.ratios).map((ratio) => ratio.spread)
  const scenarioSpread = spreads.length > 0 ? median(spreads) : 0
  const scenario = Math.max(floor, K * scenarioSpread)
  const perRatio: Record<string, number> = {}
  for (const [name, ratio] of Object.entries(baseline.ratios)) {
    perRatio[name] = Math.max(floor, K * Math.max(ratio.spread, scenarioSpread))
  }
  return { scenario, perRatio }
}

/** One ratio that moved beyond its margin. */
export interface Movement {
  name: string
  before: number
  now: number
  /** now / before. */
  change: number
  margin: number
}

/** The comparison of one scenario's result with its baseline. */
export interface ScenarioComparison {
  scenario: string
  mode: 'quick' | 'full'
  /** `undefined`: no baseline of this mode; every ratio is then new. */
  baseline: Baseline | undefined
  scenarioMargin: number
  moved: Movement[]
  within: number
  /** In the baseline, not measured in this run (a contender failed or a row was renamed). */
  missing: string[]
  /** Measured in this run, absent from the baseline. */
  added: string[]
}

/** Compare one result's ratios (`now`, by name) with the baseline of its scenario and mode. */
export function compare(
  scenario: string,
  mode: 'quick' | 'full',
  now: Readonly<Record<string, number>>,
  baseline: Baseline | undefined,
): ScenarioComparison {
  const out: ScenarioComparison = {
    scenario,
    mode,
    baseline,
    scenarioMargin: FLOOR[mode],
    moved: [],
    within: 0,
    missing: [],
    added: [],
  }
  if (!baseline || baseline.mode !== mode) {
    out.baseline = undefined
    out.added = Object.keys(now)
    return out
  }
  const m = margins(baseline)
  out.scenarioMargin = m.scenario
  for (const [name, value] of Object.entries(now)) {
    const before = baseline.ratios[name]
    if (!before) {
      out.added.push(name)
      continue
    }
    const margin = m.perRatio[name] ?? m.scenario
    const change = value / before.median
    if (change > 1 + margin || change < 1 / (1 + margin)) {
      out.moved.push({ name, before: before.median, now: value, change, margin })
    } else out.within++
  }
  for (const name of Object.keys(baseline.ratios)) if (!(name in now)) out.missing.push(name)
  return out
}

const pct = (value: number) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(0)}%`

/** The report's lines: one block per scenario, then a one-line total. Never throws. */
export function formatReport(comparisons: readonly ScenarioComparison[], baselineDir: string): string[] {
  const mode = comparisons[0]?.mode ?? 'full'
  const lines = [
    `[bench] regression report (${mode} mode, against ${baselineDir}/${mode}; a ratio moved when now/baseline leaves 1 +/- margin, margin = max(${(FLOOR[mode] * 100).toFixed(0)}%, ${K} x spread of the baseline's repeated runs); reported, never failing the run`,
  ]
  let moved = 0
  let scenariosMoved = 0
  for (const c of comparisons) {
    const head = c.baseline
      ? `  ${c.scenario}: margin ${(c.scenarioMargin * 100).toFixed(0)}% (baseline of ${c.baseline.runs} run(s), ${c.baseline.date.slice(0, 10)}, commit ${c.baseline.commit})`
      : `  ${c.scenario}: no ${c.mode} baseline (pnpm bench${c.mode === 'quick' ? ' --quick' : ''} --update-baseline ${c.scenario})`
    lines.push(head)
    if (!c.baseline) continue
    for (const mv of c.moved) {
      lines.push(
        `    MOVED ${mv.change > 1 ? 'up  ' : 'down'} ${mv.name}: ${mv.before.toFixed(2)}x -> ${mv.now.toFixed(2)}x (${pct(mv.change - 1)}, margin ${(mv.margin * 100).toFixed(0)}%)`,
      )
    }
    for (const name of c.missing) lines.push(`    missing (in the baseline, not measured now): ${name}`)
    for (const name of c.added) lines.push(`    new (no baseline yet): ${name}`)
    lines.push(`    ${c.within} ratio(s) within margin`)
    moved += c.moved.length
    if (c.moved.length > 0) scenariosMoved++
  }
  lines.push(
    `[bench] ${moved} ratio(s) moved beyond their margin in ${scenariosMoved} of ${comparisons.length} scenario result(s)`,
  )
  return lines
}
