/**
 * The soak's arithmetic and formatting, shared by its sampling and its report: sums, the
 * least-squares slope of the memory series, and the number formats of the notes and tables.
 */

/** Bytes in a MiB. */
export const MB = 1024 * 1024

export const sum = (values: Iterable<number>) => {
  let total = 0
  for (const value of values) total += value
  return total
}

/** Least-squares slope of `y` over `x`. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  if (points.length < 2) return Number.NaN
  const n = points.length
  const mx = sum(points.map(([x]) => x)) / n
  const my = sum(points.map(([, y]) => y)) / n
  const sxy = sum(points.map(([x, y]) => (x - mx) * (y - my)))
  const sxx = sum(points.map(([x]) => (x - mx) ** 2))
  return sxx === 0 ? Number.NaN : sxy / sxx
}

export function merge(into: Record<string, number>, from: Record<string, number>) {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value
}

export const fixed = (value: number | undefined, digits = 1) =>
  value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits)
export const pct = (part: number, whole: number) =>
  whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-'
export const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}: ${value.toLocaleString('en')}`)
    .join(', ')
