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
 *
 * 3. SDK against raw client: each request shape sent by the SDK and by a separate official
 *    client with the exact body the SDK compiled (captured from its transport), same rounds;
 *    goals: SDK/raw p50 and p99 per shape (`sdk-vs-raw.ts`).
 *
 * The phases live in `../search/`: `bench.ts` (variables, client, index names), `invoices.ts`
 * (data and definitions), `load.ts` (the load comparison), `queries.ts` (the latency rows),
 * `sdk-vs-raw.ts` (the SDK against the raw client),
 * `rounds.ts` (interleaved rounds), `engine-stats.ts` (heaps and store sizes).
 */
import { withRatios, writeResult } from '../report.js'
import { openSearchBench } from '../search/bench.js'
import { storeMb } from '../search/engine-stats.js'
import { compareLoads } from '../search/load.js'
import { runQueries } from '../search/queries.js'
import { compareWithRawClient } from '../search/sdk-vs-raw.js'

export async function run() {
  const bench = await openSearchBench()
  const { search, raw, invoices, docs, suffix, engineLabel, created, notes } = bench
  try {
    await compareLoads(bench)

    const merge = performance.now()
    await raw.indices.forcemerge({ index: invoices.name, max_num_segments: 1 })
    await raw.indices.refresh({ index: invoices.name })
    const mergeS = (performance.now() - merge) / 1_000
    const sizeMb = await storeMb(search, invoices.name)
    const { data, baseline, goals, after } = await runQueries(bench)
    // The SDK against the raw official client, same bodies (its own interleaved rounds).
    const versus = await compareWithRawClient(bench)
    withRatios(data.concat(versus.data), baseline)
    data.push(...versus.data)
    goals.push(...versus.goals)
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
