/**
 * The `ayala-search-bulk` bin from `dist/` (needs `pnpm build` first, as the smoke tests do):
 * loads NDJSON, reports rejected documents, resumes from a checkpoint file.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { uniqueName } from '@ayala/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SearchClient } from '../../../src/index.js'
import { clientFor, urls } from '../../helpers/engines.js'
import { basicInvoice, basicInvoices } from '../../helpers/invoices.js'

const run = promisify(execFile)
const cli = join(import.meta.dirname, '..', '..', '..', 'dist', 'cli.js')

describe('ayala-search-bulk CLI (OpenSearch)', () => {
  let search: SearchClient
  const invoices = basicInvoices(uniqueName('cli'))
  const dir = mkdtempSync(join(tmpdir(), 'ayala-cli-'))

  beforeAll(async () => {
    search = clientFor('opensearch')
    await search.createIndex(invoices)
  })
  afterAll(async () => {
    await search.deleteIndex(invoices.name)
    await search.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('loads a file, writes failures and a checkpoint, and resumes without re-reading', async () => {
    const file = join(dir, 'docs.ndjson')
    const docs = Array.from({ length: 1_500 }, (_, i) =>
      i === 700 ? { ...basicInvoice(i), totalCents: 'bad' } : basicInvoice(i),
    )
    writeFileSync(file, `${docs.map((d) => JSON.stringify(d)).join('\n')}\n`)
    const checkpoint = join(dir, 'checkpoint')
    const failures = join(dir, 'failures.ndjson')
    const args = [
      cli,
      '--node',
      urls.opensearch,
      '--index',
      invoices.name,
      '--checkpoint',
      checkpoint,
      '--failures',
      failures,
      file,
    ]
    const first = await run(process.execPath, args).then(
      () => {
        throw new Error('expected exit code 1 (one rejected document)')
      },
      (error: { code: number; stdout: string }) => error,
    )
    expect(first.code).toBe(1)
    const report = JSON.parse(first.stdout) as { indexed: number; failed: number; docsPerSec: number }
    expect(report).toMatchObject({ indexed: 1_499, failed: 1 })
    expect(report.docsPerSec).toBeGreaterThan(0)
    expect(readFileSync(failures, 'utf8')).toContain('"id":"inv-000700"')
    expect(readFileSync(checkpoint, 'utf8')).toBe('1500')

    const again = await run(process.execPath, args)
    expect(JSON.parse(again.stdout)).toMatchObject({ read: 0, indexed: 0, skippedLines: 1_500 })
  })

  it('prints usage and exits 2 without --node', async () => {
    const error = await run(process.execPath, [cli, '--index', 'x']).catch(
      (e: { code: number; stderr: string }) => e,
    )
    expect(error).toMatchObject({ code: 2 })
    expect((error as { stderr: string }).stderr).toContain('Usage: ayala-search-bulk')
  })
})
