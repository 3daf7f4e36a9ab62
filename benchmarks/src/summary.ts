/**
 * After a full run: `results/summary.md` (every scenario's table, in order, for pasting into
 * docs/benchmarks.md) and `docs/benchmarks-cache.svg`, a bar chart of p50 per contender for each
 * cache scenario on a log scale, ours highlighted.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AYALA } from './cache/contenders.js'
import { markdown, type ResultRow, runConfig, type ScenarioResult } from './report.js'

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
  let y = 40
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
      `<line x1="${tx.toFixed(1)}" y1="30" x2="${tx.toFixed(1)}" y2="${axisY - 10}" stroke="#dee2e6"/>`,
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
    `<text x="10" y="18" font-size="14" font-weight="bold">@ayala/cache vs peers: p50 per call (log scale, shorter is faster) · ${escapeXml(caption)}</text>`,
    // Grid lines first so bars draw over them.
    ...parts.filter((part) => part.startsWith('<line')),
    ...parts.filter((part) => !part.startsWith('<line')),
    '</svg>',
    '',
  ].join('\n')
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
  if (results.some((result) => result.scenario.startsWith('cache-'))) {
    writeFileSync(join(import.meta.dirname, '..', '..', 'docs', 'benchmarks-cache.svg'), chart(results))
  }
}
