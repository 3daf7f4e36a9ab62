import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { defineConfig } from 'vitest/config'
import { tierProjects } from './vitest.shared.js'

const root = import.meta.dirname

/** Every workspace folder with a `test/` directory gets its `unit` and `integration` projects. */
function testedDirs(parent: string): string[] {
  const dir = join(root, parent)
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((path) => existsSync(join(path, 'test')))
}

export default defineConfig({
  test: {
    projects: [
      ...['packages', 'tools', 'examples']
        .flatMap(testedDirs)
        .flatMap((dir) => tierProjects(dir.split('/').at(-1) ?? dir, dir)),
      ...tierProjects('benchmarks', join(root, 'benchmarks')),
      ...(existsSync(join(root, 'services', 'vitest.config.ts')) ? ['services/vitest.config.ts'] : []),
    ],
  },
})
