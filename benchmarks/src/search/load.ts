/**
 * The load phase: the same generated invoices loaded by `@ayala/search`'s bulk indexer
 * (`fastIngest`) and by the official client's `helpers.bulk` into an index given the same
 * fast-ingest settings by hand, both with concurrency 2 and a refresh at the end, after an untimed
 * warm-up load of each. Timed loads run in A-B-B-A order, each into a fresh index; the last load of
 * ours is the index the queries run on. Writes the `search-load` result (unless
 * `SEARCH_BENCH_COMPARE_BULK=0`: one load of ours, no result).
 */
import { type Goal, type ResultRow, withRatios, writeResult } from '../report.js'
import type { SearchBench } from './bench.js'
import { engineHeap, sampled, storeMb } from './engine-stats.js'
import { generate, type Invoice, project } from './invoices.js'

export const OURS = '@ayala/search bulk (fastIngest)'
export const OFFICIAL = 'official helpers.bulk (same settings)'

/** Load the invoices (and compare with the official helper); leaves our index for the queries. */
export async function compareLoads(bench: SearchBench): Promise<void> {
  const { search, raw, invoices, fields, docs, compareBulk, prefix, officialIndex, warmups, created, notes } =
    bench
  const { suffix, engineLabel } = bench
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
}
