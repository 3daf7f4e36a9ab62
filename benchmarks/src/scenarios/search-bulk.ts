/**
 * Scenario: bulk indexing throughput, @ayala/search's adaptive indexer against the official
 * client's `helpers.bulk`, on the same generated invoices, the same engine (OpenSearch), the
 * same concurrency and both with refresh at the end, alternating runs into fresh indices.
 * `SEARCH_BENCH_BULK_DOCS` documents per run (default 50,000; 2,000 in `--quick` mode),
 * `SEARCH_BENCH_BULK_RUNS` runs per contender (default 3; 1 in `--quick` mode). Rows: p50/p99 of
 * the run time in us per document and docs/s. The 1,000,000-document load of the issue is in
 * `search-query` (written as `search-load`).
 */
import { bulkIndex, createSearchClient, defineIndex, field } from '@ayala/search'
import type { ResultRow } from '../report.js'
import { runConfig, writeResult } from '../report.js'

const NODE = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200'
const CONCURRENCY = 2

const definition = (name: string) =>
  defineIndex({
    name,
    id: 'id',
    fields: {
      id: field.keyword(),
      number: field.keyword(),
      description: field.text(),
      client: field.keyword(),
      status: field.keyword(),
      issuedAt: field.date(),
      totalCents: field.money(),
    },
  })

const invoice = (i: number) => ({
  id: `inv-${i}`,
  number: `FAC-2026-${String(i).padStart(7, '0')}`,
  description: `servicio de mantenimiento ${i % 97} y reparación de equipos de electrónica`,
  client: `Cliente ${i % 500}`,
  status: ['draft', 'issued', 'paid', 'overdue'][i % 4] as string,
  issuedAt: new Date(Date.UTC(2024, 0, 1) + (i % 900) * 86_400_000).toISOString().slice(0, 10),
  totalCents: 100 + ((i * 7_919) % 1_000_000),
})

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number
}

export async function run() {
  const quick = runConfig().quick
  const DOCS = Number(process.env.SEARCH_BENCH_BULK_DOCS ?? (quick ? 2_000 : 50_000))
  const RUNS = Number(process.env.SEARCH_BENCH_BULK_RUNS ?? (quick ? 1 : 3))
  const docs = Array.from({ length: DOCS }, (_, i) => invoice(i))
  const search = createSearchClient({ node: NODE, engine: 'opensearch' })
  const raw = await search.raw()
  const times: Record<string, number[]> = { '@ayala/search bulkIndex': [], 'official helpers.bulk': [] }
  try {
    for (let r = 0; r < RUNS; r++) {
      for (const name of Object.keys(times)) {
        const def = definition(`bench-bulk-${process.pid}-${r}-${name.startsWith('@') ? 'ours' : 'official'}`)
        await search.createIndex(def)
        try {
          const t0 = performance.now()
          if (name.startsWith('@')) {
            const report = await bulkIndex(raw, docs, {
              index: def.name,
              idOf: (d) => d.id,
              concurrency: CONCURRENCY,
            })
            if (report.failed > 0) throw new Error(`ours rejected ${report.failed}`)
          } else {
            const stats = await raw.helpers.bulk({
              datasource: docs,
              concurrency: CONCURRENCY,
              refreshOnCompletion: def.name,
              onDocument: (doc) => ({ index: { _index: def.name, _id: doc.id } }),
            })
            if (stats.failed > 0) throw new Error(`official rejected ${stats.failed}`)
          }
          const ms = performance.now() - t0
          const count = (await raw.count({ index: def.name })).count
          if (count !== DOCS) throw new Error(`${name}: ${count} of ${DOCS} documents indexed`)
          times[name]?.push(ms)
        } finally {
          await search.deleteIndex(def.name)
        }
      }
    }
  } finally {
    await search.close()
  }
  const baseline = 'official helpers.bulk'
  const baseP50 = quantile(times[baseline] ?? [], 0.5)
  const data: ResultRow[] = Object.entries(times).map(([name, runs]) => {
    const p50 = quantile(runs, 0.5)
    return {
      name,
      p50Us: (p50 * 1_000) / DOCS,
      p99Us: (quantile(runs, 0.99) * 1_000) / DOCS,
      opsPerSec: (DOCS * 1_000) / p50,
      ratioToBaseline: p50 / baseP50,
    }
  })
  return writeResult(
    'search-bulk',
    `Bulk indexing ${DOCS.toLocaleString('en')} invoices into OpenSearch, concurrency ${CONCURRENCY}, ${RUNS} runs each (us per document; ops/s = docs/s)`,
    data,
    baseline,
  )
}
