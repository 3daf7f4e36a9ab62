#!/usr/bin/env node
// The Nest suite's core on Nest 10 and 11 (README.md beside this file): installs each major's
// fixture from its lockfile (pnpm, from the store when it holds the packages, else the npm
// registry), then runs the selected test files of packages/nestjs once per major through
// vitest.config.ts, whose aliases point every @nestjs/* import at that fixture. Arguments go to
// `vitest run` (e.g. `--project nestjs:nest-10`, a file filter). Exit code: vitest's.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const here = import.meta.dirname
const root = join(here, '..', '..', '..')
const MAJORS = ['10', '11']

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' })
  if (result.error) throw result.error
  return result.status ?? 1
}

for (const major of MAJORS) {
  const started = Date.now()
  const status = run(
    'pnpm',
    ['install', '--frozen-lockfile', '--prefer-offline', '--reporter=silent'],
    join(here, major),
  )
  if (status !== 0) {
    console.error(`nest-majors: installing the Nest ${major} fixture failed (exit ${status})`)
    process.exit(status)
  }
  console.log(
    `nest-majors: Nest ${major} fixture installed in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  )
}
const started = Date.now()
const status = run(
  'pnpm',
  [
    'exec',
    'vitest',
    'run',
    '--config',
    join(here, 'vitest.config.ts'),
    '--maxWorkers=1',
    ...process.argv.slice(2),
  ],
  root,
)
console.log(
  `nest-majors: the Nest suite's core on Nest ${MAJORS.join(' and ')} took ${((Date.now() - started) / 1000).toFixed(1)} s`,
)
process.exit(status)
