/**
 * The README's demo must keep working: run it as a user would (`pnpm run demo:quickstart` runs the same file)
 * and check that it completes, verified its own figures, and printed the tier table.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

it('runs the quick-start demo end to end on the real services', async () => {
  const root = join(import.meta.dirname, '..', '..')
  const { stdout } = await promisify(execFile)('pnpm', ['exec', 'tsx', 'src/main.ts'], {
    cwd: root,
    timeout: 240_000,
    maxBuffer: 10 * 1024 * 1024,
  })
  expect(stdout).toContain('cache: 2 loader calls')
  expect(stdout).toContain('bulk-indexed 5000 invoices, 0 failed')
  // The search finds what it looks for (it printed 0 hits once a default changed, unnoticed).
  expect(stdout).toMatch(/search: "electronica pequeno" -> [1-9]\d* hits, first: Electrónica/)
  expect(stdout).toMatch(/\| dashboard: in-process copy \(median of 1,000\) \| [\d.]+ us \|/)
}, 300_000)
