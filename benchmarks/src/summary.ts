/**
 * After a full run: `results/summary.md` (every scenario's table, in order), the results block of
 * `docs/benchmarks.md` (between its two marker comments), and `docs/benchmarks-cache.svg`, a bar
 * chart of p50 per contender for each cache scenario on a log scale, ours highlighted.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AYALA } from './cache/contenders.js'
import { markdown, type ResultRow, runConfig, type ScenarioResult } from './report.js'

/** Scenarios in reading order; any other file in `scenarios/` runs after these. */
export const SCENARIO_ORDER: readonly string[] = [
  'codec',
  'cache-l1-hit',
  'cache-l1-hit-batched',
  'cache-tagged-l1-hit',
  'cache-l2-hit',
  'cache-get-many',
  'cache-miss-set',
]

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

/** The SVG chart of the cache scenarios' p50 (log scale), one group of bars per scenario. */
export function chart(results: readonly ScenarioResult[]): string {
  const cache = results.filter((result) => result.scenario.startsWith('cache-'))
  const measured = (row: ResultRow) =>
    (row.status ?? 'ok') === 'ok' && Number.isFinite(row.p50Us) && row.p50Us > 0
  const all = cache.flatMap((result) => result.rows.filter(measured).map((row) => row.p50Us))
  const min = Math.min(0.1, ...all)
  const max = Math.max(1, ...all)
  const lo = Math.floor(Math.log10(min))
  const hi = Math.ceil(Math.log10(max))
  const labelWidth = 360
  const plotWidth = 460
  const width = labelWidth + plotWidth + 90
  const barHeight = 16
  const x = (us: number) => labelWidth + ((Math.log10(us) - lo) / (hi - lo)) * plotWidth
  const parts: string[] = []
  let y = 62
  for (const result of cache) {
    parts.push(`<text x="10" y="${y}" font-weight="bold">${escapeXml(result.title)}</text>`)
    y += 8
    for (const row of result.rows) {
      y += barHeight + 4
      const ours = row.name.startsWith(AYALA)
      const baseline = row.name.startsWith('baseline')
      parts.push(`<text x="${labelWidth - 8}" y="${y - 4}" text-anchor="end">${escapeXml(row.name)}</text>`)
      if (measured(row)) {
        const fill = ours ? '#d9480f' : baseline ? '#868e96' : '#4c6ef5'
        const end = x(row.p50Us)
        parts.push(
          `<rect x="${labelWidth}" y="${y - barHeight}" width="${Math.max(1, end - labelWidth).toFixed(1)}" height="${barHeight - 2}" fill="${fill}"/>`,
          `<text x="${(end + 6).toFixed(1)}" y="${y - 4}">${row.p50Us < 10 ? row.p50Us.toFixed(2) : row.p50Us.toFixed(0)} us</text>`,
        )
      } else {
        parts.push(
          `<text x="${labelWidth + 6}" y="${y - 4}" fill="#c92a2a">${escapeXml(row.status ?? '')}</text>`,
        )
      }
    }
    y += 24
  }
  const axisY = y
  for (let e = lo; e <= hi; e++) {
    const tx = x(10 ** e)
    parts.push(
      `<line x1="${tx.toFixed(1)}" y1="44" x2="${tx.toFixed(1)}" y2="${axisY - 10}" stroke="#dee2e6"/>`,
      `<text x="${tx.toFixed(1)}" y="${axisY + 4}" text-anchor="middle">${10 ** e >= 1 ? 10 ** e : (10 ** e).toFixed(-e)} us</text>`,
    )
  }
  const first = cache[0]
  const caption = first
    ? `${first.date.slice(0, 10)} · Node ${first.node} · ${first.cpu} · commit ${first.commit}`
    : ''
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${axisY + 20}" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="white"/>',
    '<text x="10" y="18" font-size="14" font-weight="bold">@ayala/cache vs peers: p50 per call (log scale, shorter is faster)</text>',
    `<text x="10" y="36" fill="#495057">${escapeXml(caption)} · <tspan fill="#d9480f">ours</tspan> · <tspan fill="#868e96">baselines</tspan> · <tspan fill="#4c6ef5">peers</tspan></text>`,
    // Grid lines first so bars draw over them.
    ...parts.filter((part) => part.startsWith('<line')),
    ...parts.filter((part) => !part.startsWith('<line')),
    '</svg>',
    '',
  ].join('\n')
}

const DOCS = join(import.meta.dirname, '..', '..', 'docs', 'benchmarks.md')
const START = '<!-- results:start (written by pnpm bench; edit around it) -->'
const END = '<!-- results:end -->'

/** Replace the results block of docs/benchmarks.md with this run's tables (cache and codec scenarios). */
function updateDocs(results: readonly ScenarioResult[]): void {
  if (!existsSync(DOCS)) return
  const doc = readFileSync(DOCS, 'utf8')
  const from = doc.indexOf(START)
  const to = doc.indexOf(END)
  if (from === -1 || to < from) return
  const tables = results
    .filter((result) => SCENARIO_ORDER.includes(result.scenario))
    .map((result) =>
      markdown(result.title, result, result.rows, result.baseline, {
        description: result.description,
        goals: result.goals,
        notes: result.notes,
      }).replace(/^## /, '### '),
    )
    .join('\n')
  writeFileSync(DOCS, `${doc.slice(0, from + START.length)}\n\n${tables}\n${doc.slice(to)}`)
}

/** Write `results/summary.md` and `docs/benchmarks-cache.svg` from this run's results. */
export function writeSummary(results: readonly ScenarioResult[]): void {
  const { resultsDir } = runConfig()
  const text = results
    .map((result) =>
      markdown(result.title, result, result.rows, result.baseline, {
        description: result.description,
        goals: result.goals,
        notes: result.notes,
      }),
    )
    .join('\n')
  writeFileSync(join(resultsDir, 'summary.md'), text)
  updateDocs(results)
  if (results.some((result) => result.scenario.startsWith('cache-'))) {
    writeFileSync(join(import.meta.dirname, '..', '..', 'docs', 'benchmarks-cache.svg'), chart(results))
  }
}

/**
 * Every result file in `dir`, the scenarios of {@link SCENARIO_ORDER} first, then the others by
 * name. The summary is built from these, so running one scenario refreshes its own tables and
 * keeps every other scenario's last figures.
 */
export function loadResults(dir: string): ScenarioResult[] {
  const rank = (name: string) => {
    const index = SCENARIO_ORDER.indexOf(name)
    return index === -1 ? SCENARIO_ORDER.length : index
  }
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
    .map((name) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as ScenarioResult)
}

// `tsx src/summary.ts`: rebuild summary.md and the chart from the JSON results already written.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = runConfig().resultsDir
  const results = loadResults(dir)
  writeSummary(results)
  console.log(
    `summary of ${results.length} scenario(s) written to ${dir}/summary.md and docs/benchmarks-cache.svg`,
  )
}
