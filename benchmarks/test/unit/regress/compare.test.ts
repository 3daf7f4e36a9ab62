import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readBaseline, writeBaseline } from '../../../src/regress/baseline.js'
import {
  type Baseline,
  baselineFrom,
  compare,
  FLOOR,
  formatReport,
  K,
  margins,
  ratiosOf,
} from '../../../src/regress/compare.js'
import type { ScenarioResult } from '../../../src/report.js'

const stampOf = { date: '2026-12-02T18:00:00.000Z', commit: 'abc1234', node: 'v24.21.0', cpu: 'x2' }

function result(
  ratios: Record<string, number>,
  mode: 'quick' | 'full' = 'full',
  goals: ScenarioResult['goals'] = [],
) {
  return {
    ...stampOf,
    mode,
    scenario: 'cache-l1-hit',
    title: 't',
    baseline: 'base',
    rows: [
      { name: 'base', p50Us: 1, p99Us: 1, opsPerSec: 1, ratioToBaseline: 1 },
      ...Object.entries(ratios).map(([name, ratioToBaseline]) => ({
        name,
        p50Us: ratioToBaseline,
        p99Us: 1,
        opsPerSec: 1,
        ratioToBaseline,
      })),
    ],
    goals,
    notes: [],
  } satisfies ScenarioResult
}

describe('ratiosOf', () => {
  it('takes every row ratio but the baseline row, goals measured in x and data.ratios', () => {
    const r = result({ ours: 1.5, peer: 20 }, 'full', [
      { goal: 'ours / base', measured: '1.50x', target: '<= 2x', met: true },
      { goal: 'round trips', measured: '1 round trip', target: '1', met: true },
      { goal: 'not computed', measured: 'n/a', target: '<= 2x', met: undefined },
    ])
    expect(ratiosOf({ ...r, data: { ratios: { 'heap ours / lru': 1.1, bad: 'x' } } })).toEqual({
      ours: 1.5,
      peer: 20,
      'goal: ours / base': 1.5,
      'heap ours / lru': 1.1,
    })
  })

  it('leaves out error rows and NaN ratios', () => {
    const r = result({ ours: Number.NaN })
    r.rows.push({
      name: 'broken',
      p50Us: 1,
      p99Us: 1,
      opsPerSec: 1,
      ratioToBaseline: 3,
      status: 'error',
    } as never)
    expect(ratiosOf(r)).toEqual({})
  })
})

describe('baselineFrom and margins', () => {
  it('keeps median, min, max and the relative spread of each ratio over the runs', () => {
    const b = baselineFrom([result({ ours: 1.0 }), result({ ours: 1.2 }), result({ ours: 1.1 })])
    expect(b.runs).toBe(3)
    expect(b.ratios.ours?.median).toBe(1.1)
    expect(b.ratios.ours?.spread).toBeCloseTo(0.2 / 1.1, 10)
    expect(margins(b).perRatio.ours).toBeCloseTo(K * (0.2 / 1.1), 10)
  })

  it('never goes below the floor of the mode (one run: spread 0)', () => {
    const full = baselineFrom([result({ ours: 1.2 })])
    const quick = baselineFrom([result({ ours: 1.2 }, 'quick')])
    expect(margins(full).scenario).toBe(FLOOR.full)
    expect(margins(quick).perRatio.ours).toBe(FLOOR.quick)
  })

  it("a steady ratio in a noisy scenario takes the scenario's spread", () => {
    const b = baselineFrom([
      result({ a: 1, b: 1, c: 10 }),
      result({ a: 1.5, b: 1.5, c: 10 }),
      result({ a: 2, b: 2, c: 10 }),
    ])
    const m = margins(b)
    expect(m.scenario).toBeCloseTo(K * (1 / 1.5), 10)
    expect(m.perRatio.c).toBe(m.scenario)
  })
})

describe('compare', () => {
  const base: Baseline = baselineFrom([result({ ours: 1.5, peer: 20 }), result({ ours: 1.5, peer: 20 })])

  it('reports a ratio beyond the margin up and down, and counts the others as within', () => {
    const up = compare('cache-l1-hit', 'full', { ours: 1.5 * 1.11, peer: 20 * 1.09 }, base)
    expect(up.moved.map((m) => m.name)).toEqual(['ours'])
    expect(up.moved[0]?.change).toBeCloseTo(1.11, 10)
    expect(up.within).toBe(1)
    const down = compare('cache-l1-hit', 'full', { ours: 1.5, peer: 20 / 1.12 }, base)
    expect(down.moved.map((m) => m.name)).toEqual(['peer'])
    expect(down.moved[0]?.change).toBeLessThan(1)
  })

  it('treats a move just inside the margin as within (both directions, log-symmetric)', () => {
    const c = compare('cache-l1-hit', 'full', { ours: 1.5 * 1.099, peer: 20 / 1.099 }, base)
    expect(c.moved).toEqual([])
    expect(c.within).toBe(2)
  })

  it('lists ratios missing from this run and ratios new to the baseline', () => {
    const c = compare('cache-l1-hit', 'full', { ours: 1.5, 'new row': 3 }, base)
    expect(c.missing).toEqual(['peer'])
    expect(c.added).toEqual(['new row'])
    expect(c.within).toBe(1)
  })

  it('does not compare with a baseline of the other mode', () => {
    const c = compare('cache-l1-hit', 'quick', { ours: 9 }, base)
    expect(c.baseline).toBeUndefined()
    expect(c.moved).toEqual([])
    expect(c.added).toEqual(['ours'])
  })

  it('formats every moved, missing and new ratio and the total', () => {
    const c = compare('cache-l1-hit', 'full', { ours: 3, 'new row': 3 }, base)
    const none = compare('search-bulk', 'full', { ours: 1 }, undefined)
    const text = formatReport([c, none], 'benchmarks/baselines').join('\n')
    expect(text).toContain('MOVED up   ours: 1.50x -> 3.00x (+100%, margin 10%)')
    expect(text).toContain('missing (in the baseline, not measured now): peer')
    expect(text).toContain('new (no baseline yet): new row')
    expect(text).toContain('search-bulk: no full baseline (pnpm bench --update-baseline search-bulk)')
    expect(text).toContain('1 ratio(s) moved beyond their margin in 1 of 2 scenario result(s)')
  })
})

describe('baseline files', () => {
  it('writes baselines/<mode>/<result>.json and reads it back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ayala-baseline-'))
    const file = writeBaseline([result({ ours: 1 }, 'quick'), result({ ours: 2 }, 'quick')], dir)
    expect(file).toBe(join(dir, 'quick', 'cache-l1-hit.json'))
    expect(JSON.parse(readFileSync(file, 'utf8')).runs).toBe(2)
    expect(readBaseline('cache-l1-hit', 'quick', dir)?.ratios.ours?.values).toEqual([1, 2])
    expect(readBaseline('cache-l1-hit', 'full', dir)).toBeUndefined()
  })
})
