/**
 * The figures every engine of the metrics-engines benchmark must end with, and how they are read:
 * count and sum of cents per status over the invoices' latest states, from the produced backlog
 * (the ground truth), compared with what each engine ends with (`changelog-watch.ts` reads the
 * JVM engines' changelogs).
 *
 * A mismatch throws: the scenario fails, it does not print a wrong figure.
 */
import type { BenchEvent } from '../metrics/events.js'

/** Count and sum of cents per status. */
export interface StatusFigures {
  byStatus: Record<string, number>
  amountByStatus: Record<string, number>
}

/** The figures of `backlog`: each invoice's latest state (a correction retracts its previous one). */
export function groundTruth(backlog: readonly BenchEvent[]): StatusFigures {
  const byStatus: Record<string, number> = {}
  const amountByStatus: Record<string, number> = {}
  const add = (status: string, sign: number, cents: number) => {
    byStatus[status] = (byStatus[status] ?? 0) + sign
    amountByStatus[status] = (amountByStatus[status] ?? 0) + sign * cents
  }
  for (const event of backlog) {
    add(event.status, 1, event.amountCents)
    if (event.previous) add(event.previous.status, -1, event.previous.amountCents)
  }
  return normalized({ byStatus, amountByStatus })
}

/** Zero entries dropped, keys sorted: engines differ in whether they keep a status at 0. */
export function normalized(figures: StatusFigures): StatusFigures {
  const clean = (record: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(record)
        .map(([key, value]) => [key, Number(value)] as const)
        .filter(([, value]) => value !== 0)
        .sort(([a], [b]) => a.localeCompare(b)),
    )
  return { byStatus: clean(figures.byStatus), amountByStatus: clean(figures.amountByStatus) }
}

/** Whether two (normalized) figures are equal. */
export function sameFigures(a: StatusFigures, b: StatusFigures): boolean {
  return JSON.stringify(normalized(a)) === JSON.stringify(normalized(b))
}

/** Throw unless `engine`'s final figures equal the ground truth. */
export function assertFigures(engine: string, got: StatusFigures, truth: StatusFigures): void {
  if (!sameFigures(got, truth)) {
    throw new Error(
      `metrics-engines: ${engine} ended with figures that differ from the ground truth of the produced events: got ${JSON.stringify(normalized(got))}, expected ${JSON.stringify(truth)}`,
    )
  }
}
