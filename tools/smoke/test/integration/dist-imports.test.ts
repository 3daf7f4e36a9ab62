/**
 * Loads every published package from its built `dist/` through its `exports` map, in a fresh Node
 * process, once with `import()` and once with `require()`, and checks both see the same public
 * names. Needs `pnpm build` first (the README's test command does it).
 */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

const cwd = import.meta.dirname

function exportedNames(mode: 'esm' | 'cjs', pkg: string): string[] {
  const script =
    mode === 'esm'
      ? `import(${JSON.stringify(pkg)}).then((m) => console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default' && k !== 'module.exports').sort())))`
      : `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(pkg)})).sort()))`
  const output = execFileSync(process.execPath, ['-e', script], { cwd, encoding: 'utf8' })
  return JSON.parse(output) as string[]
}

describe.each([
  '@ayala/cache',
  '@ayala/search',
  '@ayala/metrics-stream',
  '@ayala/outbox',
  '@ayala/nestjs',
  '@ayala/nestjs/metrics',
  '@ayala/nestjs/health',
  '@ayala/nestjs/opentelemetry',
  '@ayala/nestjs/search',
  '@ayala/nestjs/metrics-stream',
  '@ayala/nestjs/outbox',
  '@ayala/nestjs/cache-manager',
])('%s from dist/', (pkg) => {
  it('imports as ESM and requires as CJS with the same public names', () => {
    const esm = exportedNames('esm', pkg)
    const cjs = exportedNames('cjs', pkg)
    expect(esm.length).toBeGreaterThan(0)
    expect(cjs).toEqual(esm)
  })
})
