/**
 * What `reconcile()` costs on a large index, on both harness engines, against MariaDB:
 * `node packages/search/bench/reconcile.ts` (after `pnpm --filter @ayala/search build`).
 *
 * RECONCILE_BENCH_ROWS (default 500000) rows are written to a table, an index is backfilled from
 * it by `ensureIndex` (the "empty engine" start), then reconcile runs: nothing differs (with a
 * version field, with `_version` on Elasticsearch, with no version digest on OpenSearch), 1 % of
 * the rows updated in SQL spread over the key space, and 1 % in one contiguous block. Each row of
 * the result is one run: time, requests to each side, what was found and repaired. Written as
 * markdown to `benchmarks/results/search-reconcile.md`. Figures on the shared 2-core machine are
 * noisy: compare rows of one run.
 */
import { execSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import {
  createSearchClient,
  defineIndex,
  type EngineKind,
  ensureIndex,
  field,
  indexTemplateName,
  type ReconcileReport,
  reconcile,
  sqlReconcileSource,
} from '@ayala/search'
import mariadb from 'mariadb'

const ROWS = Number(process.env.RECONCILE_BENCH_ROWS ?? 500_000)
const ENGINES = (process.env.RECONCILE_BENCH_ENGINES ?? 'elasticsearch,opensearch').split(',') as EngineKind[]
const URLS: Record<EngineKind, string> = {
  elasticsearch: process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9201',
  opensearch: process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200',
}
const database = new URL(process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/test')
const pool = mariadb.createPool({
  host: database.hostname,
  port: Number(database.port || 3306),
  user: decodeURIComponent(database.username || 'root'),
  password: decodeURIComponent(database.password),
  database: database.pathname.slice(1) || 'test',
  connectionLimit: 4,
  bigIntAsNumber: true,
  insertIdAsNumber: true,
})
const suffix = Math.random().toString(16).slice(2, 8)
const table = `bench_reconcile_${suffix}`
const STATUSES = ['draft', 'issued', 'paid', 'overdue']

const toDocument = (row: Record<string, unknown>) => ({
  id: Number(row.id),
  version: Number(row.version),
  status: String(row.status),
  total: Number(row.total),
  description: String(row.description),
})

interface Line {
  engine: EngineKind
  run: string
  report: ReconcileReport
}

const lines: Line[] = []

function log(engine: EngineKind, run: string, report: ReconcileReport) {
  lines.push({ engine, run, report })
  console.log(
    `[reconcile] ${engine} ${run}: ${(report.durationMs / 1_000).toFixed(2)} s, db ${report.requests.database} / engine ${report.requests.engine} requests, ranges ${report.ranges}, leaves ${report.leaves}, found missing ${report.missing} extra ${report.extra} stale ${report.stale}, repaired ${report.repaired.indexed + report.repaired.deleted}, remaining ${report.remaining}`,
  )
}

async function seed() {
  await pool.query(
    `CREATE TABLE ${table} (id INT NOT NULL PRIMARY KEY, version INT NOT NULL, status VARCHAR(16) NOT NULL, total INT NOT NULL, description VARCHAR(200) NOT NULL)`,
  )
  const started = performance.now()
  for (let start = 1; start <= ROWS; start += 5_000) {
    const values: unknown[] = []
    const end = Math.min(ROWS, start + 4_999)
    for (let i = start; i <= end; i++)
      values.push(
        i,
        1,
        STATUSES[i % 4],
        100 + (i % 10_000),
        `invoice ${i} client ${i % 997} services rendered`,
      )
    await pool.query(
      `INSERT INTO ${table} (id, version, status, total, description) VALUES ${Array.from({ length: end - start + 1 }, () => '(?, ?, ?, ?, ?)').join(', ')}`,
      values,
    )
  }
  console.log(`[reconcile] seeded ${ROWS} rows in ${((performance.now() - started) / 1_000).toFixed(1)} s`)
}

async function bench(engine: EngineKind) {
  const search = createSearchClient({ node: URLS[engine], engine, requestTimeout: '120s' })
  const definition = defineIndex({
    name: `bench-reconcile-${suffix}-${engine}`,
    id: 'id',
    fields: {
      id: field.long(),
      version: field.long(),
      status: field.keyword(),
      total: field.integer(),
      description: field.text({ analyzer: 'standard' }),
    },
  })
  const source = sqlReconcileSource({ db: pool, table, toDocument })
  try {
    const start = await ensureIndex(search, definition, { source, reconcile: { versionField: 'version' } })
    if (start.report) log(engine, `empty index backfilled at start-up (${ROWS} rows)`, start.report)
    const base = { search, definition, source }
    log(engine, 'nothing differs, versionField', await reconcile({ ...base, versionField: 'version' }))
    log(
      engine,
      `nothing differs, no version field (${engine === 'elasticsearch' ? '_version' : 'key-by-key scan'})`,
      await reconcile(base),
    )
    const onePercent = Math.floor(ROWS / 100)
    await pool.query(`UPDATE ${table} SET version = version + 1 WHERE id % 100 = 7`)
    log(
      engine,
      `1 % stale, spread (${onePercent} rows)`,
      await reconcile({ ...base, versionField: 'version' }),
    )
    const from = Math.floor(ROWS / 2)
    await pool.query(`UPDATE ${table} SET version = version + 1 WHERE id >= ? AND id < ?`, [
      from,
      from + onePercent,
    ])
    log(
      engine,
      `1 % stale, one block (${onePercent} rows)`,
      await reconcile({ ...base, versionField: 'version' }),
    )
  } finally {
    const raw = await search.raw()
    await raw.indices.delete({ index: definition.name, ignore_unavailable: true })
    await raw.indices.deleteIndexTemplate({ name: indexTemplateName(definition.name) }, { ignore: [404] })
    await search.close()
  }
}

try {
  await seed()
  for (const engine of ENGINES) {
    // Each engine starts from the same table state.
    await pool.query(`UPDATE ${table} SET version = 1 WHERE version <> 1`)
    await bench(engine)
  }
} finally {
  await pool.query(`DROP TABLE IF EXISTS ${table}`)
  await pool.end()
}

const commit = (() => {
  try {
    return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
})()
const out = [
  `## reconcile() on ${ROWS.toLocaleString('en')} documents (MariaDB table vs index, fanout 16, leafSize 2000)`,
  '',
  `${new Date().toISOString()} · Node ${process.version} · ${cpus()[0]?.model ?? 'cpu'} x${cpus().length} · commit ${commit}`,
  '',
  '| engine | run | time (s) | database calls | engine requests | ranges compared | leaves listed | found (missing/extra/stale) | repaired | remaining |',
  '|---|---|---:|---:|---:|---:|---:|---|---:|---:|',
  ...lines.map(
    ({ engine, run, report: r }) =>
      `| ${engine} | ${run} | ${(r.durationMs / 1_000).toFixed(2)} | ${r.requests.database} | ${r.requests.engine} | ${r.ranges} | ${r.leaves} | ${r.missing}/${r.extra}/${r.stale} | ${r.repaired.indexed + r.repaired.deleted} | ${r.remaining} |`,
  ),
  '',
]
const file = join(import.meta.dirname, '..', '..', '..', 'benchmarks', 'results', 'search-reconcile.md')
writeFileSync(file, out.join('\n'))
console.log(`[reconcile] written ${file}`)
