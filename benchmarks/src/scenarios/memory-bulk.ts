/**
 * Scenario: Node memory of bulk indexing, @ayala/search's `bulkIndex` against the official
 * client's `helpers.bulk`, on the same generated invoices read from an async generator (a user
 * streaming rows from a database: the caller holds no document), into OpenSearch, concurrency 2,
 * each contender with its defaults otherwise. Each load runs in a fresh `node --expose-gc`
 * process (`memory/child.ts`), sampled every 10 ms: the figure compared is the peak heapUsed above
 * the reading taken after full GCs before the load. Runs alternate ours, official, official, ours
 * (`SEARCH_BENCH_MEMORY_ROUNDS` blocks, default 1) and each contender's mean is reported.
 * Full runs repeat it with an array built before the first reading (rows `, array source`).
 * `SEARCH_BENCH_MEMORY_DOCS` documents per load (default 200,000; 10,000 in `--quick` mode, where
 * one load of each runs: ours, official).
 */
import { AYALA } from '../cache/contenders.js'
import type { MemoryFigures } from '../memory/child.js'
import { delta, failedRow, heapRatios, mb, measure, memoryRow } from '../memory/measure.js'
import { type Goal, type ResultRow, ratioGoal, runConfig, writeResult } from '../report.js'

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length

const NODE = process.env.OPENSEARCH_URL ?? 'http://127.0.0.1:9200'
const CONCURRENCY = 2
const OURS = '@ayala/search bulkIndex'
const OFFICIAL = 'official helpers.bulk'

export async function run() {
  const quick = runConfig().quick
  const docs = Number(process.env.SEARCH_BENCH_MEMORY_DOCS ?? (quick ? 10_000 : 200_000))
  const rounds = Number(process.env.SEARCH_BENCH_MEMORY_ROUNDS ?? 1)
  // Full runs also load from an array built before the first reading (the set-up, where
  // the caller holds every document): the delta is then the indexers' own buffers.
  const sources = quick ? (['generator'] as const) : (['generator', 'array'] as const)
  const rows: ResultRow[] = []
  const goals: Goal[] = []
  for (const source of sources) {
    const label = source === 'array' ? ', array source' : ''
    const loads: Record<'ours' | 'official', MemoryFigures[]> = { ours: [], official: [] }
    const errors: Record<string, unknown> = {}
    for (let r = 0; r < rounds; r++) {
      for (const contender of quick
        ? (['ours', 'official'] as const)
        : (['ours', 'official', 'official', 'ours'] as const)) {
        try {
          const figures = await measure({
            kind: 'bulk',
            contender,
            docs,
            node: NODE,
            concurrency: CONCURRENCY,
            source,
          })
          if (figures.count !== docs) throw new Error(`${figures.count} of ${docs} documents indexed`)
          loads[contender].push(figures)
        } catch (error) {
          errors[contender] = error
        }
      }
    }
    const group: ResultRow[] = (['official', 'ours'] as const).map((contender) => {
      const name = `${contender === 'ours' ? OURS : OFFICIAL}${label}`
      const list = loads[contender]
      if (list.length === 0) return failedRow(name, errors[contender] ?? new Error('no load measured'))
      const peaks = list.map((f) => delta(f.before, f.peak ?? f.after))
      const retained = list.map((f) => delta(f.before, f.after))
      const heap = mean(peaks.map((p) => p.heapUsed))
      const seconds = mean(list.map((f) => f.ms)) / 1_000
      return memoryRow(
        name,
        heap,
        `peak heap +${mb(heap)} MB (loads: ${peaks.map((p) => mb(p.heapUsed)).join(', ')}), peak external +${mb(mean(peaks.map((p) => p.external)))} MB, peak RSS +${mb(mean(peaks.map((p) => p.rss)))} MB, heap after GC +${mb(mean(retained.map((p) => p.heapUsed)))} MB; ${(docs / seconds).toFixed(0)} docs/s`,
      )
    })
    heapRatios(group, `${OFFICIAL}${label}`)
    const ours = group.find((row) => row.name === `${OURS}${label}`)
    goals.push(
      ratioGoal(
        `${OURS} peak heap / helpers.bulk peak heap${label}`,
        ours?.ratioToBaseline ?? Number.NaN,
        1.1,
      ),
    )
    rows.push(...group)
  }
  return writeResult(
    'memory-bulk',
    `Memory: Node heap peak while bulk indexing ${docs.toLocaleString('en')} invoices into OpenSearch, ${AYALA.replace('cache', 'search')} vs helpers.bulk (fresh process per load)`,
    rows,
    OFFICIAL,
    {
      description: `Each load a fresh \`node --expose-gc\` process, documents from an async generator${quick ? '' : ' (and, the rows marked so, from an array built before the first reading)'}, concurrency ${CONCURRENCY}, defaults otherwise; peak of heapUsed sampled every 10 ms minus the reading after full GCs before the load; loads in ${quick ? 'ours, official' : 'ours, official, official, ours'} order (${rounds} block(s)), means. "p50 / baseline" is heap / heap.`,
      goals,
    },
  )
}
