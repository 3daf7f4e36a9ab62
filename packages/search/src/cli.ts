#!/usr/bin/env node
/**
 * `ayala-search-bulk`: bulk-load NDJSON documents (a file or stdin) into an index with the
 * package's bulk indexer, showing a progress bar on stderr and a final throughput report.
 * A checkpoint file (the number of input lines done) makes an interrupted load resumable.
 *
 * Credentials come from flags or, for the secrets, preferably from the environment (flags are
 * visible to every user of the machine in `ps`): `--username` / `AYALA_SEARCH_USERNAME`,
 * `AYALA_SEARCH_PASSWORD` (or `--password`), `AYALA_SEARCH_API_KEY` (or `--api-key`), `--ca` for a
 * custom CA. They are checked with one `GET /` before anything is read: wrong credentials end the
 * run at once with one `E_SEARCH_AUTH` line naming the engine and the user. No output of the CLI
 * carries a secret (the client redacts every message).
 */
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { bulkIndex } from './bulk/bulk-indexer.js'
import { engineError } from './engine/engine-error.js'
import { createSearchClient } from './engine/search-client.js'
import { SearchError } from './errors.js'
import { redactText } from './redact.js'

const USAGE = `Usage: ayala-search-bulk --node <url> --index <name> [options] [file.ndjson]

Reads one JSON document per line from the file (or stdin) and indexes it.

  --node <url>          engine URL (e.g. https://127.0.0.1:9200)
  --engine <kind>       elasticsearch | opensearch | auto (default auto)
  --username <name>     basic auth user (or AYALA_SEARCH_USERNAME)
  --password <secret>   basic auth password; prefer AYALA_SEARCH_PASSWORD (flags show in ps)
  --api-key <key>       API key (base64 id:key); prefer AYALA_SEARCH_API_KEY
  --ca <file>           PEM file of the CA that signed the engine's certificate
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
      username: { type: 'string' },
      password: { type: 'string' },
      'api-key': { type: 'string' },
      ca: { type: 'string' },
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
  const username = values.username ?? process.env.AYALA_SEARCH_USERNAME
  const password = values.password ?? process.env.AYALA_SEARCH_PASSWORD
  const apiKey = values['api-key'] ?? process.env.AYALA_SEARCH_API_KEY
  const secrets = [password, apiKey].filter((secret): secret is string => secret !== undefined)
  if ((username === undefined) !== (password === undefined)) {
    process.stderr.write('ayala-search-bulk: give both a username and a password (AYALA_SEARCH_PASSWORD)\n')
    return 2
  }
  if (username !== undefined && apiKey !== undefined) {
    process.stderr.write('ayala-search-bulk: give a username/password or an API key, not both\n')
    return 2
  }
  let ca: string | undefined
  if (values.ca !== undefined) {
    try {
      ca = readFileSync(values.ca, 'utf8')
    } catch (error) {
      process.stderr.write(`ayala-search-bulk: cannot read the CA file: ${redactText(String(error))}\n`)
      return 2
    }
  }
  let search: ReturnType<typeof createSearchClient>
  try {
    search = createSearchClient({
      node: values.node,
      engine,
      ...(username !== undefined && password !== undefined ? { auth: { username, password } } : {}),
      ...(apiKey !== undefined ? { auth: { apiKey } } : {}),
      ...(ca !== undefined ? { tls: { ca } } : {}),
    })
  } catch (error) {
    const message =
      error instanceof SearchError ? `${error.code}: ${error.message}` : redactText(String(error), secrets)
    process.stderr.write(`ayala-search-bulk: ${redactText(message, secrets)}\n`)
    return 2
  }
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
    // One request before anything is read: wrong credentials or an unreachable engine end the
    // run here with one clear line, not with a failure per document.
    await client.transport.request({ method: 'GET', path: '/' }).catch((error: unknown) => {
      throw engineError(error)
    })
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
      batchSize: Number(values.batch),
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
    process.stderr.write(`${showBar ? '\n' : ''}ayala-search-bulk: ${redactText(message, secrets)}\n`)
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
    process.stderr.write(`ayala-search-bulk: ${redactText(String(error))}\n`)
    process.exitCode = 2
  },
)
