import { describe, expect, it } from 'vitest'
import { assertFigures, groundTruth, normalized, sameFigures } from '../../../src/engines/figures.js'
import { makeEvents } from '../../../src/metrics/events.js'

describe('the metrics-engines ground truth', () => {
  it('counts each invoice once, in its latest state (a correction retracts its previous state)', () => {
    const events = makeEvents(6, 0)
    // inv-0 open, inv-1 open -> paid, inv-3 open, inv-4 open -> paid
    const amount = (n: number) => 100 + ((n * 7_919) % 100_000)
    expect(groundTruth(events)).toEqual({
      byStatus: { open: 2, paid: 2 },
      amountByStatus: { open: amount(0) + amount(3), paid: amount(1) + amount(4) },
    })
  })

  it('ignores zero entries and key order when comparing', () => {
    const a = { byStatus: { paid: 2, open: 1, cancelled: 0 }, amountByStatus: { open: 5, paid: 7 } }
    const b = { byStatus: { open: 1, paid: 2 }, amountByStatus: { paid: 7, open: 5 } }
    expect(sameFigures(a, b)).toBe(true)
    expect(normalized(a).byStatus).toEqual({ open: 1, paid: 2 })
  })

  it('throws, naming the engine and both figures, when an engine ends with other figures', () => {
    const truth = groundTruth(makeEvents(300, 0))
    const doubled = { ...truth, byStatus: { ...truth.byStatus, paid: (truth.byStatus.paid ?? 0) + 1 } }
    expect(() => assertFigures('flink', doubled, truth)).toThrow(/flink ended with figures that differ/)
    expect(() => assertFigures('flink', truth, truth)).not.toThrow()
  })
})
