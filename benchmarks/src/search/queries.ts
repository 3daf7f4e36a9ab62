/**
 * The query phase, on our index after a force-merge: a relevance search with two filters and
 * highlighting (and, one at a time, what each ingredient costs), a plain relevance search, and on
 * OpenSearch the autocomplete strategies on the same text. Query terms are generated outside the
 * timed loop and cycled; calls are sequential awaits, in interleaved rounds (`rounds.ts`).
 */
import type { Goal, ResultRow } from '../report.js'
import type { SearchBench } from './bench.js'
import { engineHeap, type JvmHeap } from './engine-stats.js'
import { STATUSES, spanishDefinition, WORDS } from './invoices.js'
import { Rounds } from './rounds.js'

/** The latency rows, their baseline and goals, and the engine heap after the queries. */
export async function runQueries(
  setup: SearchBench,
): Promise<{ data: ResultRow[]; baseline: string; goals: Goal[]; after: JvmHeap }> {
  const { search, invoices, docs, quick, spanish } = setup
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
  return { data, baseline, goals, after }
}
