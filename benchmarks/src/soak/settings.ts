/**
 * The settings of a soak run (from the environment and the mode) and the state of the code it
 * measures (the tree is shared with other engineers: a run names what was uncommitted).
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

/**
 * Files under the example and the packages that differ from the commit (the tree is shared with
 * other engineers: a run measures what was there), as `git status --porcelain` lines.
 */
export function uncommitted(): string[] {
  try {
    return execFileSync('git', ['status', '--porcelain', '--', 'examples/invoicing-api', 'packages'], {
      cwd: join(import.meta.dirname, '..', '..', '..'),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .filter((line) => line.trim() !== '')
  } catch (error) {
    return [`(git status failed: ${(error as Error).message.split('\n')[0]})`]
  }
}

/** Settings of a run, from the environment and the mode. */
export function settings(quick: boolean) {
  const number = (name: string, fallback: number) => {
    const value = process.env[name]
    if (value === undefined || value === '') return fallback
    const parsed = Number(value)
    if (!Number.isFinite(parsed) || parsed <= 0)
      throw new Error(`${name} must be a positive number, got "${value}"`)
    return parsed
  }
  const sabotage = process.env.SOAK_SABOTAGE || undefined
  if (sabotage !== undefined && sabotage !== 'sql-write' && sabotage !== 'kill-app')
    throw new Error(`SOAK_SABOTAGE must be "sql-write" or "kill-app", got "${sabotage}"`)
  return {
    invoices: Math.round(number('SOAK_INVOICES', quick ? 2_000 : 20_000)),
    durationS: number('SOAK_DURATION', quick ? 25 : 300),
    intervalS: number('SOAK_SAMPLE_INTERVAL', quick ? 2 : 5),
    gcIntervalS: number('SOAK_GC_INTERVAL', quick ? 10 : 60),
    scale: number('SOAK_RATE_SCALE', 1),
    sabotage,
  }
}

/** The settings of a run. */
export type SoakSettings = ReturnType<typeof settings>
