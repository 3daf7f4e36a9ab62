#!/usr/bin/env node
/**
 * `ayala-search-bulk`: bulk-load NDJSON documents (a file or stdin) into an index with the
 * package's bulk indexer, showing a progress bar on stderr and a final throughput report.
 * A checkpoint file (the number of input lines done) makes an interrupted load resumable.
 */
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { bulkIndex } from './bulk/bulk-indexer.js'
import { createSearchClient } from './engine/search-client.js'
import { SearchError } from './errors.js'

const USAGE = `Usage: ayala-search-bulk --node <url> --index <name> [options] [file.ndjson]

Reads one JSON document per line from the file (or stdin) and indexes it.

  --node <url>          engine URL (e.g. http://127.0.0.1:9200)
  --engine <kind>       elasticsearch | opensearch | auto (default auto)
  --index <name>        target index or write alias
  --id-field <name>     document field used as _id (default id)
  --concurrency <n>     requests in flight (default 2)
  --batch <n>           first batch size in documents (default 100)
  --fast-ingest         refresh_interval -1 and 0 replicas during the load, restored after
  --checkpoint <file>   resume from / save progress to this file
  --failures <file>     write every rejected document (NDJSON: id, status, type, reason)
  --quiet               no progress bar
  -h, --help            this text
`

function bar(done: number, width = 24): string {
  const filled = Math.round(Math.min(1, done) * width)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      node: { type: 'string' },
      engine: { type: 'string', default: 'auto' },
      index: { type: 'string' },
      'id-field': { type: 'string', default: 'id' },
      concurrency: { type: 'string', default: '2' },
      batch: { type: 'string', default: '100' },
      'fast-ingest': { type: 'boolean', default: false },
      checkpoint: { type: 'string' },
      failures: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (!values.node || !values.index) {
    process.stderr.write(`--node and --index are required\n\n${USAGE}`)
    return 2
  }
  const engine = values.engine as 'elasticsearch' | 'opensearch' | 'auto'
  const search = createSearchClient({ node: values.node, engine })
  const file = positionals[0]
  const input = file && file !== '-' ? createReadStream(file) : process.stdin
  const idField = values['id-field']
  const skip =
    values.checkpoint && existsSync(values.checkpoint) ? Number(readFileSync(values.checkpoint, 'utf8')) : 0
  const totalLines =
    file && file !== '-'
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((line) => line.trim()).length
      : undefined
  let line = 0
  async function* documents(): AsyncGenerator<{ line: number; doc: Record<string, unknown> }> {
    for await (const text of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      if (!text.trim()) continue
      line++
      if (line <= skip) continue
      yield { line, doc: JSON.parse(text) as Record<string, unknown> }
    }
  }
  const showBar = !values.quiet && process.stderr.isTTY
  try {
    const client = await search.raw()
    // The bulk indexer serializes what it gets; unwrap the line number with a mapping generator.
    const lines = new Map<Record<string, unknown>, number>()
    async function* docs(): AsyncGenerator<Record<string, unknown>> {
      for await (const { line: n, doc } of documents()) {
        lines.set(doc, n)
        yield doc
      }
    }
    const report = await bulkIndex(client, docs(), {
      index: values.index,
      idOf: (doc) => String(doc[idField]),
      concurrency: Number(values.concurrency),
      initialBatchSize: Number(values.batch),
      fastIngest: values['fast-ingest'],
      checkpointOf: (doc) => {
        const n = lines.get(doc) ?? 0
        lines.delete(doc)
        return n
      },
      saveCheckpoint: values.checkpoint
        ? (n: number) => writeFileSync(values.checkpoint as string, String(n))
        : undefined,
      onProgress: (p) => {
        if (!showBar) return
        const done = totalLines ? (p.read + skip) / totalLines : 0
        process.stderr.write(
          `\r${totalLines ? `${bar(done)} ${(done * 100).toFixed(1)}% ` : ''}${p.indexed.toLocaleString('en')} indexed, ${p.failed} failed, ${Math.round(p.docsPerSec).toLocaleString('en')} docs/s, batch ${p.batchSize}   `,
        )
      },
    })
    if (showBar) process.stderr.write('\n')
    if (values.failures) {
      writeFileSync(
        values.failures,
        report.failures.map((f) => JSON.stringify(f)).join('\n') + (report.failures.length ? '\n' : ''),
      )
    }
    const seconds = report.elapsedMs / 1_000
    process.stdout.write(
      `${JSON.stringify({
        read: report.read,
        indexed: report.indexed,
        failed: report.failed,
        skippedLines: skip,
        retries: report.retries,
        requests: report.requests,
        seconds: Number(seconds.toFixed(2)),
        docsPerSec: Math.round(report.docsPerSec),
        megabytes: Number((report.bytes / 1_048_576).toFixed(2)),
      })}\n`,
    )
    for (const failure of report.failures.slice(0, 10)) {
      process.stderr.write(`failed ${failure.id}: ${failure.status} ${failure.type}: ${failure.reason}\n`)
    }
    return report.failed > 0 ? 1 : 0
  } catch (error) {
    const message = error instanceof SearchError ? `${error.code}: ${error.message}` : String(error)
    process.stderr.write(`${showBar ? '\n' : ''}ayala-search-bulk: ${message}\n`)
    return 2
  } finally {
    await search.close()
  }
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`ayala-search-bulk: ${String(error)}\n`)
    process.exitCode = 2
  },
)
