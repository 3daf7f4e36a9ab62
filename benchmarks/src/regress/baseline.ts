/**
 * The committed baselines of the regression report: `benchmarks/baselines/<mode>/<result>.json`,
 * one file per result name (a scenario may write several results), refreshed by
 * `pnpm bench [--quick] --update-baseline [--repeat N] [scenario...]` from N repeated runs.
 *
 * A full run without a full baseline for a result falls back to the committed
 * `benchmarks/results/<result>.json` (read before the run overwrites it): one run, so its spread is
 * unknown and the floor margin alone applies.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ScenarioResult } from '../report.js'
import { type Baseline, baselineFrom } from './compare.js'

/** `benchmarks/baselines`. */
export const BASELINE_DIR = join(import.meta.dirname, '..', '..', 'baselines')

/** `benchmarks/results` (the committed full results). */
const RESULTS_DIR = join(import.meta.dirname, '..', '..', 'results')

/** The baseline of `name` in `mode`, or `undefined`. */
export function readBaseline(name: string, mode: 'quick' | 'full', dir = BASELINE_DIR): Baseline | undefined {
  const file = join(dir, mode, `${name}.json`)
  if (!existsSync(file)) return undefined
  return JSON.parse(readFileSync(file, 'utf8')) as Baseline
}

/** Write the baseline of one result name from its repeated runs; returns the file written. */
export function writeBaseline(runs: readonly ScenarioResult[], dir = BASELINE_DIR): string {
  const baseline = baselineFrom(runs)
  const folder = join(dir, baseline.mode)
  mkdirSync(folder, { recursive: true })
  const file = join(folder, `${baseline.scenario}.json`)
  writeFileSync(file, `${JSON.stringify(baseline, null, 2)}\n`)
  return file
}

/**
 * The committed full results, as one-run baselines by result name: read at the start of a run,
 * before any scenario overwrites its file.
 */
export function committedResults(dir = RESULTS_DIR): Map<string, Baseline> {
  const out = new Map<string, Baseline>()
  if (!existsSync(dir)) return out
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.json')) continue
    try {
      const result = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ScenarioResult
      if (result.mode !== 'full' || !Array.isArray(result.rows)) continue
      const baseline = baselineFrom([{ ...result, goals: result.goals ?? [] }])
      out.set(result.scenario, { ...baseline, commit: `${baseline.commit}, committed benchmarks/results` })
    } catch (error) {
      // A result file another run is writing right now: no fallback baseline for it, said once.
      console.warn(`[bench] ${file}: not read as a baseline (${(error as Error).message})`)
    }
  }
  return out
}
