/**
 * Runs every scenario in `src/scenarios/` (or those named on the command line) one after another
 * in this process: `pnpm bench [--quick] [scenario...]`.
 *
 * A scenario listed in `PARTS` is also part of another, which runs it in a shared set-up: a run of
 * every scenario runs the whole only (`metrics-stream`, not its three sections again); a part
 * named on the command line runs alone.
 *
 * `--quick`: a smoke run for CI (100 ms per task, results in a temporary folder, no summary or
 * chart written). It fails only if a scenario itself crashes or our cache errors; a peer's
 * failure is a row of the report, and no timing is ever asserted.
 *
 * At the end, every result's ratios are compared with the committed baseline of the same mode
 * (`regress/`): the ratios that moved beyond their margin are printed, never failing the run.
 * `--repeat N` runs each scenario N times (the report takes the median of each ratio);
 * `--update-baseline` writes `benchmarks/baselines/<mode>/` from this run's N runs instead.
 */
import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { AYALA } from './cache/contenders.js'
import { BASELINE_DIR, committedResults, readBaseline, writeBaseline } from './regress/baseline.js'
import { compare, formatReport, ratiosOf } from './regress/compare.js'
import { configureRun, type ScenarioResult, writtenResults } from './report.js'
import { loadResults, SCENARIO_ORDER as ORDER, writeSummary } from './summary.js'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const updateBaseline = args.includes('--update-baseline')
const repeatArg = args.find((arg) => arg.startsWith('--repeat'))
const repeat = repeatArg ? Number(repeatArg.split('=')[1] ?? args[args.indexOf(repeatArg) + 1]) : 1
if (!Number.isSafeInteger(repeat) || repeat < 1) {
  console.error(`--repeat takes a whole number >= 1 (--repeat=3), got ${repeatArg}`)
  process.exit(2)
}
const wanted = args.filter((arg, i) => !arg.startsWith('--') && !(args[i - 1] === '--repeat'))
const config = configureRun({ quick })
// Read before any scenario overwrites them: the fallback baselines of a full run.
const committed = quick ? new Map() : committedResults()

/** Scenarios run by another one (the key) in its set-up; not run again in a run of every scenario. */
const PARTS: Readonly<Record<string, readonly string[]>> = {
  'metrics-stream': ['metrics-dashboard', 'metrics-latency', 'metrics-throughput'],
}
const parts = Object.values(PARTS).flat()

const dir = join(import.meta.dirname, 'scenarios')
const found = readdirSync(dir)
  .filter((file) => file.endsWith('.ts'))
  .map((file) => file.slice(0, -3))
const rank = (name: string) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length)
const scenarios = found
  .filter((name) => (wanted.length === 0 ? !parts.includes(name) : wanted.includes(name)))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
const unknown = wanted.filter((name) => !found.includes(name))
if (unknown.length > 0) {
  console.error(`Unknown scenario(s): ${unknown.join(', ')}. Known: ${found.join(', ')}`)
  process.exit(2)
}

/** Results grouped by result name (a scenario may write several, and `--repeat` each N times). */
function byResultName(list: readonly ScenarioResult[]): Map<string, ScenarioResult[]> {
  const out = new Map<string, ScenarioResult[]>()
  for (const result of list) out.set(result.scenario, [...(out.get(result.scenario) ?? []), result])
  return out
}

const started = Date.now()
const results: ScenarioResult[] = []
const ourErrors: string[] = []
for (const name of scenarios) {
  const scenario = (await import(join(dir, `${name}.ts`))) as {
    run: () => Promise<ScenarioResult | undefined>
  }
  const firstWritten = writtenResults.length
  for (let round = 1; round <= repeat; round++) {
    const scenarioStarted = Date.now()
    const result = await scenario.run()
    console.log(
      `[bench] ${name} took ${((Date.now() - scenarioStarted) / 1000).toFixed(1)} s${repeat > 1 ? ` (run ${round} of ${repeat})` : ''}`,
    )
    if (result) {
      results.push(result)
      for (const row of result.rows) {
        if (row.name.startsWith(AYALA) && row.status === 'error')
          ourErrors.push(`${name} / ${row.name}: ${row.error}`)
      }
    }
  }
  // Written as each scenario ends, so that a later scenario's crash does not lose them.
  if (updateBaseline) {
    for (const runs of byResultName(writtenResults.slice(firstWritten)).values())
      console.log(`[bench] baseline written: ${writeBaseline(runs)}`)
  }
}

// Every scenario's last result, not only this run's: running one scenario keeps the others' tables.
// `--no-summary`: a full run of some scenarios that leaves summary.md, the chart and the results
// block of docs/benchmarks.md alone (they are rebuilt from every result file).
if (!quick && !args.includes('--no-summary')) writeSummary(loadResults(config.resultsDir))
console.log(
  `\n[bench] ${scenarios.length} scenario(s) in ${((Date.now() - started) / 1000).toFixed(1)} s${quick ? ' (quick mode)' : ''}; results in ${config.resultsDir}`,
)

// Regression report (or baseline refresh) over every result written, grouped by result name.
const byName = byResultName(writtenResults)
const mode = quick ? 'quick' : 'full'
if (!updateBaseline && byName.size > 0) {
  const comparisons = [...byName].map(([name, runs]) => {
    const now: Record<string, number> = {}
    const all = runs.map(ratiosOf)
    for (const key of new Set(all.flatMap(Object.keys))) {
      const values = all.flatMap((ratios) => (key in ratios ? [ratios[key] as number] : []))
      values.sort((a, b) => a - b)
      now[key] = values[Math.floor((values.length - 1) / 2)] as number
    }
    return compare(name, mode, now, readBaseline(name, mode) ?? committed.get(name))
  })
  console.log(
    `\n${formatReport(comparisons, relative(join(BASELINE_DIR, '..', '..'), BASELINE_DIR)).join('\n')}`,
  )
}
if (ourErrors.length > 0) {
  console.error(`[bench] ${AYALA} failed in:\n  ${ourErrors.join('\n  ')}`)
  process.exitCode = 1
}

// Every scenario closes its clients; if something still holds the event loop, say what and leave.
const watchdog = setTimeout(() => {
  console.error(`[bench] still open after the run: ${process.getActiveResourcesInfo().join(', ')}`)
  process.exit(process.exitCode ?? 0)
}, 5_000)
watchdog.unref()
