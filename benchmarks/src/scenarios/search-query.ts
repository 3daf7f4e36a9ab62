/**
 * Scenario: the issue's search benchmark, loading and querying generated Spanish invoices.
 *
 * 1. Load, side by side in one run: the same generated invoices (an async generator, nothing
 *    held in memory) are loaded once by `@ayala/search`'s bulk indexer (`fastIngest`) and once
 *    by the official client's `helpers.bulk` into a second index given the same fast-ingest
 *    settings by hand, both with concurrency 2 and a refresh at the end; a small warm-up load of
 *    each runs first. Rows: us per document and docs/s; peak engine heap and peak Node heap of
 *    each load are sampled (every second) and reported.
 * 2. Queries, on our index after a force-merge (the official one is deleted first to give the
 *    node its heap back): a relevance search with two filters and highlighting, a plain
 *    relevance search, and the autocomplete strategies on the same text. Query terms are
 *    generated outside the timed loop and cycled; calls are sequential awaits. Tasks run in
 *    interleaved rounds (a slice of each per round, order rotated, samples merged) so the
 *    engine's caches and the machine's load drift are the same for every row.
 *
 * Size: `SEARCH_BENCH_DOCS` invoices (default 50,000; 2,000 in `--quick` mode; the issue's target
 * is 1,000,000). Engine: `SEARCH_BENCH_ENGINE=opensearch|elasticsearch` (default opensearch;
 * the harness's Elasticsearch has no analysis-common/mapper-extras, so there the text fields use
 * the standard analyzer and there is no autocomplete row: every strategy the package offers needs
 * those modules; the baseline there is the plain relevance search).
 * `SEARCH_BENCH_COMPARE_BULK=0` loads with ours only and writes no `search-load` result (to rerun
 * the queries without the 15-minute peer load). `SEARCH_BENCH_LOAD_ROUNDS=N` repeats the A-B-B-A
 * load block N times (default 1); `SEARCH_BENCH_WARMUP_DOCS` sizes the untimed warm-up load of each
 * contender (default a tenth of the load, at most 100,000); `SEARCH_BENCH_BULK_OPTIONS` (JSON) passes extra bulk options to
 * ours, for experiments. Results: `search-query` (latency) and `search-load` (bulk), with the
 * engine's name appended for Elasticsearch. Both indices are deleted at the end, also on failure.
 */
import { createSearchClient, defineIndex, type EngineKind, field, type SearchClient } from '@ayala/search'
import { type Goal, type ResultRow, rowFromSamples, runConfig, withRatios, writeResult } from '../report.js'

const WORDS = [
  'mantenimiento',
  'electrónica',
  'consultoría',
  'pequeño',
  'servicio',
  'reparación',
  'licencia',
  'envío',
  'instalación',
  'formación',
  'auditoría',
  'limpieza',
  'transporte',
  'alquiler',
  'diseño',
  'desarrollo',
  'soporte',
  'hosting',
  'material',
  'oficina',
  'papelería',
  'mobiliario',
  'catering',
  'fontanería',
  'calefacción',
  'climatización',
  'jardinería',
  'seguridad',
  'publicidad',
  'traducción',
  'asesoría',
  'contabilidad',
]
const CITIES = ['Madrid', 'Málaga', 'Córdoba', 'Cádiz', 'León', 'Ávila', 'Logroño', 'Jaén', 'Alcalá', 'Gijón']
const CLIENTS = [
  'Pequeño Comercio',
  'Electrónica Díaz',
  'Consultores Núñez',
  'Ferretería López',
  'Óptica Peña',
  'Talleres Martín',
  'Panadería Sánchez',
  'Construcciones Gómez',
  'Farmacia Ruiz',
  'Librería Castro',
]
const STATUSES = ['draft', 'issued', 'paid', 'overdue']

/** Deterministic per document: invoice `i` is the same in every load. */
function invoice(i: number) {
  let s = (i + 1) * 2_654_435_761
  const pick = <T>(list: readonly T[]): T => {
    s = (s ^ (s >>> 15)) * 2_246_822_519
    s = (s ^ (s >>> 13)) >>> 0
    return list[s % list.length] as T
  }
  const client = `${pick(CLIENTS)} ${pick(CITIES)}`
  const description = `${pick(WORDS)} de ${pick(WORDS)} y ${pick(WORDS)} en ${pick(CITIES)} para ${client}`
  return {
    id: `inv-${i}`,
    number: `FAC-${2020 + (i % 7)}-${String(i).padStart(7, '0')}`,
    description,
    client,
    status: STATUSES[i % STATUSES.length] as string,
    issuedAt: new Date(Date.UTC(2020, 0, 1) + (i % 2_500) * 86_400_000).toISOString().slice(0, 10),
    totalCents: 100 + ((i * 7_919) % 1_000_000),
    suggest: description,
    suggestEdge: description,
    suggestCompletion: description,
  }
}
type Invoice = ReturnType<typeof invoice>

/** The Spanish preset (OpenSearch, with analysis-common and mapper-extras). */
const spanishDefinition = (name: string) =>
  defineIndex({
    name,
    id: 'id',
    fields: {
      id: field.keyword(),
      number: field.identifier(),
      description: field.text(),
      client: field.keyword({ normalizer: 'folded' }),
      status: field.keyword(),
      issuedAt: field.date(),
      totalCents: field.money(),
      suggest: field.autocomplete({ strategy: 'search_as_you_type' }),
      suggestEdge: field.autocomplete({ strategy: 'edge_ngram' }),
      suggestCompletion: field.autocomplete({ strategy: 'completion' }),
    },
  })

/** What a bare Elasticsearch server (no analysis modules) can index. */
const plainDefinition = (name: string) =>
  defineIndex({
    name,
    id: 'id',
    fields: {
      id: field.keyword(),
      number: field.keyword(),
      description: field.text({ analyzer: 'standard' }),
      client: field.keyword({ normalizer: 'lowercase' }),
      status: field.keyword(),
      issuedAt: field.date(),
      totalCents: field.money(),
    },
  })

async function* generate(count: number): AsyncGenerator<Invoice> {
  for (let i = 0; i < count; i++) yield invoice(i)
}

/** Strip the fields a definition does not declare (the plain one has fewer). */
function project(doc: Invoice, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const name of fields) out[name] = (doc as Record<string, unknown>)[name]
  return out
}

interface JvmHeap {
  usedMb: number
  maxMb: number
}

async function engineHeap(search: SearchClient): Promise<JvmHeap> {
  const raw = await search.raw()
  const stats = (await raw.transport.request({ method: 'GET', path: '/_nodes/stats/jvm' })) as {
    nodes: Record<string, { jvm: { mem: { heap_used_in_bytes: number; heap_max_in_bytes: number } } }>
  }
  const nodes = Object.values(stats.nodes)
  return {
    usedMb: nodes.reduce((sum, n) => sum + n.jvm.mem.heap_used_in_bytes, 0) / 1_048_576,
    maxMb: nodes.reduce((sum, n) => sum + n.jvm.mem.heap_max_in_bytes, 0) / 1_048_576,
  }
}

async function storeMb(search: SearchClient, index: string): Promise<number> {
  const raw = await search.raw()
  const store = await raw.indices.stats({ index, metric: 'store' })
  return (store._all.primaries?.store?.size_in_bytes ?? 0) / 1_048_576
}

/** Peak engine heap and Node heap while `work` runs, sampled every second. */
async function sampled<T>(
  search: SearchClient,
  work: () => Promise<T>,
): Promise<{ value: T; ms: number; enginePeakMb: number; nodePeakMb: number; nodeCpuS: number }> {
  let enginePeakMb = 0
  let nodePeakMb = 0
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      nodePeakMb = Math.max(nodePeakMb, process.memoryUsage().heapUsed / 1_048_576)
      enginePeakMb = Math.max(enginePeakMb, (await engineHeap(search)).usedMb)
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    }
  })()
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  try {
    const value = await work()
    const cpu = process.cpuUsage(cpu0)
    // Node CPU of the load (user + system), the sampler's few calls included for both contenders.
    const nodeCpuS = (cpu.user + cpu.system) / 1e6
    return { value, ms: performance.now() - t0, enginePeakMb, nodePeakMb, nodeCpuS }
  } finally {
    sampling = false
    await sampler
  }
}

/**
 * Interleaved rounds: after a warm-up of each task, every round runs each task for a time slice
 * (at least `minSamples` calls), in an order rotated by one each round; samples are merged.
 */
interface RoundTask {
  name: string
  fn: () => Promise<void>
  samples: number[]
}

class Rounds {
  readonly #tasks: RoundTask[] = []

  constructor(readonly plan: { rounds: number; sliceMs: number; warmupMs: number; minSamples: number }) {}

  add(name: string, fn: () => Promise<void>): this {
    this.#tasks.push({ name, fn, samples: [] })
    return this
  }

  async run(): Promise<void> {
    const { rounds, sliceMs, warmupMs, minSamples } = this.plan
    for (const task of this.#tasks) {
      const end = performance.now() + warmupMs
      while (performance.now() < end) await task.fn()
    }
    const n = this.#tasks.length
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < n; k++) {
        const task = this.#tasks[(round + k) % n] as RoundTask
        const end = performance.now() + sliceMs
        for (let count = 0; count < minSamples || performance.now() < end; count++) {
          const t0 = performance.now()
          await task.fn()
          task.samples.push(performance.now() - t0)
        }
      }
    }
  }

  rows(baseline: string): ResultRow[] {
    return withRatios(
      this.#tasks.map((task) => rowFromSamples(task.name, task.samples)),
      baseline,
    )
  }
}

const OURS = '@ayala/search bulk (fastIngest)'
const OFFICIAL = 'official helpers.bulk (same settings)'

export async function run() {
  const quick = runConfig().quick
  const compareBulk = process.env.SEARCH_BENCH_COMPARE_BULK !== '0'
  const docs = Number(process.env.SEARCH_BENCH_DOCS ?? (quick ? 2_000 : 50_000))
  if (!Number.isSafeInteger(docs) || docs < 100)
    throw new Error(`SEARCH_BENCH_DOCS must be >= 100, got ${docs}`)
  const engine: EngineKind =
    process.env.SEARCH_BENCH_ENGINE === 'elasticsearch' ? 'elasticsearch' : 'opensearch'
  const node =
    engine === 'elasticsearch'
      ? (process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9201')
      : (process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200')
  const suffix = engine === 'elasticsearch' ? '-elasticsearch' : ''
  const engineLabel = engine === 'elasticsearch' ? 'Elasticsearch 9.5' : 'OpenSearch 2.19'
  const search = createSearchClient({ node, engine, requestTimeout: '10m' })
  const raw = await search.raw()
  const prefix = `bench-search-${process.pid}`
  const spanish = engine === 'opensearch'
  // Typed as the Spanish definition: the calls made on the plain one only use fields both declare.
  const invoices = spanish
    ? spanishDefinition(`${prefix}-ours`)
    : (plainDefinition(`${prefix}-ours`) as unknown as ReturnType<typeof spanishDefinition>)
  const fields = Object.keys(invoices.mappings.properties ?? {})
  const officialIndex = `${prefix}-official`
  const warmups = [`${prefix}-warm-ours`, `${prefix}-warm-official`]
  const created = [invoices.name, officialIndex, ...warmups]
  const notes: string[] = []

  // SEARCH_BENCH_BULK_OPTIONS='{"maxBatchBytes":5000000}': extra bulk options for ours (experiments).
  const oursOptions = JSON.parse(process.env.SEARCH_BENCH_BULK_OPTIONS ?? '{}') as Record<string, unknown>
  const batchSizes: number[] = []
  const requestMb: number[] = []
  const loadOurs = async (index: string, count: number) => {
    const report = await search.bulk(
      invoices,
      (async function* () {
        for await (const doc of generate(count)) yield project(doc, fields) as Invoice
      })(),
      { index, fastIngest: true, concurrency: 2, ...oursOptions },
    )
    if (report.failed > 0) throw new Error(`ours rejected ${report.failed}: ${report.failures[0]?.reason}`)
    batchSizes.push(report.batchSize)
    requestMb.push(report.bytes / Math.max(1, report.requests) / 1_048_576)
  }
  const loadOfficial = async (index: string, count: number) => {
    // The same fast-ingest switch ours makes, done by hand, inside the timed region.
    const before = await raw.indices.getSettings({ index, flat_settings: true })
    const settings = before[index]?.settings as Record<string, unknown> | undefined
    await raw.indices.putSettings({ index, settings: { refresh_interval: '-1', number_of_replicas: 0 } })
    const stats = await raw.helpers.bulk({
      datasource: (async function* () {
        for await (const doc of generate(count)) yield project(doc, fields)
      })(),
      concurrency: 2,
      onDocument: (doc) => ({ index: { _index: index, _id: doc.id as string } }),
    })
    // null resets a setting to its default (the client's types do not admit it).
    const restore = {
      refresh_interval: settings?.['index.refresh_interval'] ?? null,
      number_of_replicas: settings?.['index.number_of_replicas'] ?? null,
    }
    await raw.indices.putSettings({ index, settings: restore as never })
    await raw.indices.refresh({ index })
    if (stats.failed > 0) throw new Error(`official rejected ${stats.failed}`)
  }

  try {
    // Warm-up: both code paths and the node's indexing path see a few thousand documents first.
    // A tenth of the load (at most 100,000): with 20,000, the first timed load (always ours) ran
    // 20-30% slower than the three after it in two of three 1M runs, a penalty on ours alone.
    // SEARCH_BENCH_WARMUP_DOCS=N overrides it (e.g. the full size, to take the opening penalty out).
    const warm = Number(
      process.env.SEARCH_BENCH_WARMUP_DOCS ?? Math.min(100_000, Math.max(500, Math.floor(docs / 10))),
    )
    if (!Number.isSafeInteger(warm) || warm < 1)
      throw new Error(`SEARCH_BENCH_WARMUP_DOCS must be >= 1, got ${warm}`)
    for (const index of warmups) await search.createIndex(invoices, { name: index })
    await loadOurs(warmups[0] as string, warm)
    if (compareBulk) await loadOfficial(warmups[1] as string, warm)
    await search.deleteIndex(warmups)

    // Timed loads in A-B-B-A order (ours, official, official, ours), each into a fresh index, so
    // neither contender always runs first or second on a node whose state drifts (heap, merges,
    // page cache); each contender's figure is the mean of its two loads. The last load of ours is
    // the index the queries below run on. Without the comparison: one load of ours.
    const loadsOf = async (
      order: Array<'ours' | 'official'>,
    ): Promise<Record<'ours' | 'official', Array<Awaited<ReturnType<typeof sampled>>>>> => {
      const runs: Record<'ours' | 'official', Array<Awaited<ReturnType<typeof sampled>>>> = {
        ours: [],
        official: [],
      }
      for (const [i, who] of order.entries()) {
        const last = i === order.length - 1
        const index = who === 'ours' ? (last ? invoices.name : `${prefix}-ours-${i}`) : officialIndex
        await search.createIndex(invoices, { name: index })
        if (!last) created.push(index)
        runs[who].push(
          await sampled(search, () => (who === 'ours' ? loadOurs(index, docs) : loadOfficial(index, docs))),
        )
        const count = (await raw.count({ index })).count
        if (count !== docs) throw new Error(`${index}: ${count} of ${docs} documents indexed`)
        if (!last) {
          if (who === 'official') officialMb = await storeMb(search, index)
          await search.deleteIndex(index)
        }
      }
      return runs
    }
    const mean = (runs: Array<Awaited<ReturnType<typeof sampled>>>) => ({
      ms: runs.reduce((sum, r) => sum + r.ms, 0) / runs.length,
      enginePeakMb: Math.max(...runs.map((r) => r.enginePeakMb)),
      nodePeakMb: Math.max(...runs.map((r) => r.nodePeakMb)),
      nodeCpuS: runs.reduce((sum, r) => sum + r.nodeCpuS, 0) / runs.length,
      each: runs.map((r) => `${(r.ms / 1_000).toFixed(1)} s`).join(' + '),
    })
    let officialMb = 0
    // SEARCH_BENCH_LOAD_ROUNDS=N repeats the A-B-B-A block N times (more loads, less noise).
    const loadRounds = Number(process.env.SEARCH_BENCH_LOAD_ROUNDS ?? 1)
    if (!Number.isSafeInteger(loadRounds) || loadRounds < 1)
      throw new Error(`SEARCH_BENCH_LOAD_ROUNDS must be >= 1, got ${loadRounds}`)
    const abba: Array<'ours' | 'official'> = ['ours', 'official', 'official', 'ours']
    const runs = await loadsOf(compareBulk ? Array.from({ length: loadRounds }, () => abba).flat() : ['ours'])
    const ours = mean(runs.ours)
    const official = compareBulk ? mean(runs.official) : undefined
    const oursMb = await storeMb(search, invoices.name)
    notes.push(
      `load: ours ${Math.round((docs * 1_000) / ours.ms).toLocaleString('en')} docs/s, engine heap peak ${ours.enginePeakMb.toFixed(0)} MB`,
    )
    if (official) {
      const load: ResultRow[] = [[OURS, ours] as const, [OFFICIAL, official] as const].map(
        ([name, result]) => ({
          name,
          p50Us: (result.ms * 1_000) / docs,
          p99Us: Number.NaN,
          opsPerSec: (docs * 1_000) / result.ms,
          ratioToBaseline: Number.NaN,
          samples: 1,
          status: 'ok',
          note: `mean of ${result.each}; engine heap peak ${result.enginePeakMb.toFixed(0)} MB; Node heap peak ${result.nodePeakMb.toFixed(0)} MB; Node CPU ${result.nodeCpuS.toFixed(1)} s per load`,
        }),
      )
      withRatios(load, OFFICIAL)
      const bulkRatio = official.ms / ours.ms
      const heap = await engineHeap(search)
      const loadGoals: Goal[] = [
        {
          goal: 'bulk indexer at least as fast as helpers.bulk (docs/s ours / official)',
          measured: `${bulkRatio.toFixed(2)}x`,
          target: '>= 1x',
          met: bulkRatio >= 1,
        },
      ]
      writeResult(
        `search-load${suffix}`,
        `Bulk load of ${docs.toLocaleString('en')} invoices into ${engineLabel}, ours vs the official helper in one run (us per document; ops/s = docs/s)`,
        load,
        OFFICIAL,
        {
          description: `${loadRounds === 1 ? 'Two timed loads' : `${2 * loadRounds} timed loads`} per contender in A-B-B-A order (ours, official, official, ours${loadRounds > 1 ? `, the block repeated ${loadRounds} times` : ''}), each into its own fresh index (same mappings, refresh_interval -1 and 0 replicas during the load, refresh at the end, concurrency 2), after an untimed warm-up load of ${warm.toLocaleString('en')} documents by each; each figure is the mean of its loads.${loadRounds === 1 ? ' Still two runs each, so the ratio carries machine noise (SEARCH_BENCH_LOAD_ROUNDS repeats the block).' : ''}`,
          goals: loadGoals,
          notes: [
            `index size before force-merge: ours ${oursMb.toFixed(1)} MB, official ${officialMb.toFixed(1)} MB (primaries)`,
            `ours' adaptive batch size at the end of each load: ${batchSizes.join(', ')} documents (mean request ${requestMb.map((mb) => mb.toFixed(1)).join(', ')} MB)${Object.keys(oursOptions).length > 0 ? `; ours with ${JSON.stringify(oursOptions)}` : ''}`,
            `engine heap after both loads ${heap.usedMb.toFixed(0)} MB of ${heap.maxMb.toFixed(0)} MB`,
          ],
        },
      )
    }

    const merge = performance.now()
    await raw.indices.forcemerge({ index: invoices.name, max_num_segments: 1 })
    await raw.indices.refresh({ index: invoices.name })
    const mergeS = (performance.now() - merge) / 1_000
    const sizeMb = await storeMb(search, invoices.name)

    const terms = Array.from({ length: 64 }, (_, i) => WORDS[(i * 5) % WORDS.length] as string)
    const prefixes = terms.map((t, i) => t.slice(0, 3 + (i % 3)))
    const numberPrefixes = Array.from({ length: 64 }, (_, i) =>
      `FAC-${2020 + (i % 7)}-${String((i * 15_485) % docs).padStart(7, '0')}`.slice(0, 11 + (i % 3)),
    )
    let n = 0
    const next = () => n++ % terms.length
    const bench = new Rounds(
      quick
        ? { rounds: 2, sliceMs: 50, warmupMs: 20, minSamples: 3 }
        : { rounds: 8, sliceMs: 700, warmupMs: 500, minSamples: 5 },
    )
    const q = invoices.q
    if (spanish) {
      const sp = spanishDefinition(invoices.name)
      bench
        .add('completion suggester (prefix)', async () => {
          await search.suggest(sp, 'suggestCompletion', prefixes[next()] as string, { size: 10 })
        })
        .add('search_as_you_type (bool_prefix)', async () => {
          await search.search(sp, {
            query: sp.q.autocomplete('suggest', prefixes[next()] as string),
            size: 10,
            trackTotalHits: false,
          })
        })
        .add('edge n-grams (match)', async () => {
          await search.search(sp, {
            query: sp.q.autocomplete('suggestEdge', prefixes[next()] as string),
            size: 10,
            trackTotalHits: false,
          })
        })
        .add('invoice-number prefix (identifier)', async () => {
          await search.search(sp, {
            query: sp.q.prefix('number', numberPrefixes[next()] as string),
            size: 10,
            trackTotalHits: false,
          })
        })
    }
    // The filtered search and its ingredients, one request shape: text, then what each row adds.
    const filtered =
      (parts: { status?: boolean; amount?: boolean; highlight?: boolean; total?: false | number }) =>
      async () => {
        const i = next()
        await search.search(invoices, {
          query: q.match('description', terms[i] as string),
          filter: [
            ...(parts.status ? [q.term('status', STATUSES[i % 4] as string)] : []),
            ...(parts.amount ? [q.range('totalCents', { gte: 10_000, lte: 500_000 })] : []),
          ],
          ...(parts.highlight ? { highlight: ['description'] } : {}),
          ...(parts.total !== undefined ? { trackTotalHits: parts.total } : {}),
          size: 20,
        })
      }
    bench
      .add('search: text + filters + highlight', filtered({ status: true, amount: true, highlight: true }))
      .add('search: relevance, top 20', async () => {
        await search.search(invoices, { query: q.match('description', terms[next()] as string), size: 20 })
      })
      // Where the filtered search spends its time: one ingredient at a time.
      .add('  text + status filter', filtered({ status: true }))
      .add('  text + amount range filter', filtered({ amount: true }))
      .add('  text + both filters, no highlight', filtered({ status: true, amount: true }))
      .add(
        '  text + both filters + highlight, no total count',
        filtered({ status: true, amount: true, highlight: true, total: false }),
      )
      .add(
        '  text + both filters + highlight, total counted up to 1,000',
        filtered({ status: true, amount: true, highlight: true, total: 1_000 }),
      )
    await bench.run()
    const after = await engineHeap(search)
    const baseline = spanish ? 'completion suggester (prefix)' : 'search: relevance, top 20'
    const data = bench.rows(baseline)
    const p = (name: string) => data.find((row) => row.name === name)
    const msGoal = (
      goal: string,
      row: ResultRow | undefined,
      key: 'p50Us' | 'p99Us',
      targetMs: number,
    ): Goal => {
      const value = row ? row[key] / 1_000 : Number.NaN
      return {
        goal,
        measured: Number.isFinite(value) ? `${value.toFixed(2)} ms` : 'n/a',
        target: `<= ${targetMs} ms`,
        met: Number.isFinite(value) ? value <= targetMs : undefined,
      }
    }
    const searchRow = p('search: text + filters + highlight')
    const autocomplete = p('search_as_you_type (bool_prefix)')
    const goals = [
      msGoal('search p50 (text + filters + highlight)', searchRow, 'p50Us', 10),
      msGoal('search p99 (text + filters + highlight)', searchRow, 'p99Us', 30),
      msGoal('search p50 (relevance, top 20)', p('search: relevance, top 20'), 'p50Us', 10),
      msGoal('search p99 (relevance, top 20)', p('search: relevance, top 20'), 'p99Us', 30),
      ...(spanish ? [msGoal(`autocomplete p50 (${autocomplete?.name})`, autocomplete, 'p50Us', 5)] : []),
    ]
    notes.push(
      `index ${sizeMb.toFixed(1)} MB (primaries) after a force-merge to one segment (${mergeS.toFixed(0)} s)`,
      `engine heap ${after.usedMb.toFixed(0)} MB of ${after.maxMb.toFixed(0)} MB after the queries; Node heap ${(process.memoryUsage().heapUsed / 1_048_576).toFixed(0)} MB`,
      'latencies are sequential awaits from one Node process on the same 2-core VM as the engine (client, JSON and HTTP included)',
    )
    const result = writeResult(
      `search-query${suffix}`,
      `Search on ${docs.toLocaleString('en')} invoices (${engineLabel}, 1 shard, index ${sizeMb.toFixed(0)} MB)`,
      data,
      baseline,
      { goals, notes },
    )
    return result
  } finally {
    await search.deleteIndex(created)
    await search.close()
  }
}
