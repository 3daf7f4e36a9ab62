/**
 * Scenario: memory of the cache's L1 against a bare `lru-cache` holding the same values. Each
 * measurement runs in a fresh `node --expose-gc` process (`memory/child.ts`): the contender is
 * built and warmed, full GCs, a reading; N invoices (`makeInvoice`, ~600 bytes as msgpack, built
 * in the loop so the cache holds the only reference) are set; full GCs, a reading. The figure
 * compared is the heapUsed delta (what the L1 holds for N entries, values included); external
 * (Buffers) and RSS deltas are reported beside it.
 *
 * Contenders: `lru-cache` (`max: N`, the cache scenarios' TTL) as the baseline; `@ayala/cache`
 * without Redis (L1 only) and with Redis (L1 + L2, the shape users run), `l1MaxEntries: N`,
 * `l1MaxBytes: 0` (bounded by entries, as the baseline). Full: 10,000 and 100,000 entries; quick:
 * 10,000 and, L1 only, 100,000 (the Redis row at 100,000 takes a few seconds more).
 */
import { AYALA } from '../cache/contenders.js'
import type { MemoryFigures } from '../memory/child.js'
import { delta, failedRow, heapRatios, mb, measure, memoryRow } from '../memory/measure.js'
import { type Goal, type ResultRow, ratioGoal, runConfig, writeResult } from '../report.js'

const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const BASELINE = (n: number) => `lru-cache, ${n.toLocaleString('en')} entries`

export async function run() {
  const quick = runConfig().quick
  const rows: ResultRow[] = []
  const goals: Goal[] = []
  const perEntry: Record<string, number> = {}
  for (const entries of [10_000, 100_000]) {
    const group: ResultRow[] = []
    type Contender = 'lru-cache' | 'ayala-l1' | 'ayala-redis'
    const contenders: [Contender, string][] = [
      ['lru-cache', BASELINE(entries)],
      ['ayala-l1', `${AYALA} L1 only, ${entries.toLocaleString('en')} entries`],
      ...(quick && entries > 10_000
        ? []
        : ([['ayala-redis', `${AYALA} L1 + Redis, ${entries.toLocaleString('en')} entries`]] as [
            Contender,
            string,
          ][])),
    ]
    for (const [contender, name] of contenders) {
      let figures: MemoryFigures
      try {
        figures = await measure({ kind: 'l1', contender, entries, redis: REDIS })
      } catch (error) {
        group.push(failedRow(name, error))
        continue
      }
      const d = delta(figures.before, figures.after)
      if (figures.count !== entries) {
        group.push(failedRow(name, new Error(`holds ${figures.count} of ${entries} entries`)))
        continue
      }
      perEntry[name] = d.heapUsed / entries
      group.push(
        memoryRow(
          name,
          d.heapUsed,
          `heap +${mb(d.heapUsed)} MB (${Math.round(d.heapUsed / entries)} B/entry), external +${mb(d.external)} MB, RSS +${mb(d.rss)} MB; fill ${figures.ms.toFixed(0)} ms`,
        ),
      )
    }
    heapRatios(group, BASELINE(entries))
    for (const row of group.slice(1)) {
      goals.push(ratioGoal(`${row.name}: heap / lru-cache heap`, row.ratioToBaseline, 1.2))
    }
    rows.push(...group)
  }
  const overhead = (n: number, variant: string) =>
    (perEntry[`${AYALA} ${variant}, ${n.toLocaleString('en')} entries`] ?? Number.NaN) -
    (perEntry[BASELINE(n)] ?? Number.NaN)
  const notes = [10_000, 100_000].map(
    (n) =>
      `${n.toLocaleString('en')} entries: ours holds ${Math.round(overhead(n, 'L1 only'))} B/entry more than lru-cache (L1 only)${Number.isFinite(overhead(n, 'L1 + Redis')) ? `, ${Math.round(overhead(n, 'L1 + Redis'))} B/entry more with Redis` : ''}.`,
  )
  return writeResult(
    'memory-l1',
    'Memory: L1 heap of @ayala/cache vs a bare lru-cache holding the same invoices (heapUsed delta after full GCs, fresh process per measurement)',
    rows,
    BASELINE(10_000),
    {
      description:
        'Each row is a fresh `node --expose-gc` process: contender built and warmed, GC, reading; N ~600-byte invoices set; GC, reading. "p50 / baseline" is heap / heap against the lru-cache row of the same N.',
      goals,
      notes,
      data: { perEntryBytes: perEntry },
    },
  )
}
