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
    env: {
      ...process.env,
      DEMO_INVOICES: '1500',
      DEMO_DURATION: '1',
      INVOICING_DATABASE_URL: database.toString(),
    },
    timeout: 300_000,
    maxBuffer: 10 * 1024 * 1024,
  })
  expect(stdout).toMatch(/\| GET \/invoices\/:id \(cached: L1\) \|.*\| equal \|/)
  expect(stdout).toMatch(/\| GET \/dashboard \|.*\| equal \|/)
  expect(stdout).toContain('two instances: an update through A is served by B')
  expect(stdout).toMatch(/demo: every check passed in [\d.]+ s/)
  // The e2e table at this size, every served path answered (no failure column but "0 / ..."),
  // then the way to 1M; not in a terminal, so it exits instead of keeping the API up.
  expect(stdout).toMatch(/\| dashboard \(SQL: [^)]+\) \| 1 \|.*\| 0 \/ 0 \|/)
  expect(stdout).toMatch(/\| one invoice \(cached\) \(SQL: [^)]+\) \| 1 \|/)
  expect(stdout).toContain('At 1,000,000 invoices: DEMO_INVOICES=1000000')
  expect(stdout).not.toContain('The API is running')
}, 360_000)
