/**
 * The README's main demo (`./scripts/demo.sh` runs `pnpm run demo`, which runs this package's
 * `demo` script) must keep working: run it as a user would, on a smaller dataset in a database of
 * its own, and check that it completed every self-check and printed the table.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'
import { serviceAddresses } from '../../src/config.ts'

it('runs the main demo end to end on the real services', async () => {
  const root = join(import.meta.dirname, '..', '..')
  const database = new URL(serviceAddresses().databaseUrl)
  // One database for this check on a machine: a later run reuses its dataset, and a re-seed
  // removes the previous dataset's index, topic and keys, so nothing piles up.
  database.pathname = '/ayala_invoicing_demo_check'
  const { stdout } = await promisify(execFile)('pnpm', ['run', 'demo'], {
    cwd: root,
    env: { ...process.env, DEMO_INVOICES: '1500', INVOICING_DATABASE_URL: database.toString() },
    timeout: 300_000,
    maxBuffer: 10 * 1024 * 1024,
  })
  expect(stdout).toMatch(/\| GET \/invoices\/:id \(cached: L1\) \|.*\| equal \|/)
  expect(stdout).toMatch(/\| GET \/dashboard \|.*\| equal \|/)
  expect(stdout).toContain('two instances: an update through A is served by B')
  expect(stdout).toMatch(/demo: every check passed in [\d.]+ s/)
}, 360_000)
