/**
 * Key ranges: cutting a range into `fanout` consecutive parts (integer keys: equal widths;
 * string keys: points interpolated in printable-ASCII byte order) and comparing two digests.
 * A digest sum is trusted only while it is exact in a double (at most 2^53): larger sums make
 * the range descend, never look equal by rounding.
 */
import type { KeyRange, RangeDigest, ReconcileKey } from './types.js'

const SAFE = Number.MAX_SAFE_INTEGER

/** Equal digests, trusted only where the sums are exact. */
export function sameDigest(a: RangeDigest, b: RangeDigest, versions: boolean): boolean {
  if (a.count !== b.count) return false
  if (a.count === 0) return true
  if (versions) {
    if (!(Math.abs(a.versionSum) <= SAFE && Math.abs(b.versionSum) <= SAFE)) return false
    if (a.versionSum !== b.versionSum) return false
  } else return false
  if (a.keySum !== undefined && b.keySum !== undefined) {
    if (!(Math.abs(a.keySum) <= SAFE && Math.abs(b.keySum) <= SAFE)) return false
    if (a.keySum !== b.keySum) return false
  }
  return true
}

/** Split `range` into up to `parts` consecutive sub-ranges; one range back means "cannot split". */
export function splitRange(
  range: KeyRange,
  bounds: { min: ReconcileKey; max: ReconcileKey },
  parts: number,
): KeyRange[] {
  const points: ReconcileKey[] = []
  if (typeof bounds.min === 'number' && typeof bounds.max === 'number') {
    const lo = typeof range.gte === 'number' ? range.gte : bounds.min
    const hi = typeof range.lt === 'number' ? range.lt : bounds.max + 1
    const span = hi - lo
    const n = Math.min(parts, span)
    for (let i = 1; i < n; i++) {
      const point = lo + Math.floor((span * i) / n)
      if (point > lo && point < hi && point !== points.at(-1)) points.push(point)
    }
  } else {
    const lo = String(range.gte ?? bounds.min)
    const hi = range.lt === undefined ? `${String(bounds.max)}~` : String(range.lt)
    for (const point of interpolateStrings(lo, hi, parts)) {
      if (point > lo && point < hi && (points.length === 0 || point > (points.at(-1) as string)))
        points.push(point)
    }
  }
  if (points.length === 0) return [range]
  const out: KeyRange[] = []
  let gte = range.gte
  for (const point of points) {
    out.push({ gte, lt: point })
    gte = point
  }
  out.push({ gte, lt: range.lt })
  return out
}

const BASE = 95 // printable ASCII, 0x20..0x7e

/** Points between `lo` and `hi` (exclusive), as printable ASCII strings, evenly spaced. */
function interpolateStrings(lo: string, hi: string, parts: number): string[] {
  const length = Math.max(lo.length, hi.length) + 2
  const toBig = (s: string) => {
    let n = 0n
    for (let i = 0; i < length; i++) {
      const code = i < s.length ? s.charCodeAt(i) : 0x20
      n = n * BigInt(BASE) + BigInt(Math.min(Math.max(code, 0x20), 0x7e) - 0x20)
    }
    return n
  }
  const a = toBig(lo)
  const b = toBig(hi)
  if (b <= a + 1n) return []
  const out: string[] = []
  for (let i = 1; i < parts; i++) {
    let n = a + ((b - a) * BigInt(i)) / BigInt(parts)
    const chars: string[] = new Array(length)
    for (let j = length - 1; j >= 0; j--) {
      chars[j] = String.fromCharCode(Number(n % BigInt(BASE)) + 0x20)
      n /= BigInt(BASE)
    }
    out.push(chars.join('').replace(/ +$/, ''))
  }
  return out
}
