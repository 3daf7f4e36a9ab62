/**
 * A fixed-memory latency histogram: log-linear buckets (8 sub-buckets per power of two) from
 * 1 us to ~1 h, so recording is one Math.log2 and one array increment, and quantiles are read
 * from cumulative counts with a relative error under ~9 %.
 *
 * Next to them it counts samples into fixed bounds (`bounds`, ms; Prometheus's `le` buckets), so a
 * metrics exporter can publish a true histogram (`_bucket{le}`, `_sum`, `_count`) that aggregates
 * across instances and windows. The log-linear buckets cannot serve for that: their edges fall
 * between any round bounds. Recording scans the few bounds (no allocation).
 */

const SUB = 8
const BUCKETS = 32 * SUB

/** Default fixed bounds of {@link LatencyHistogram}, ms (1 ms to 10 s, as Prometheus clients use). */
export const DEFAULT_LATENCY_BOUNDS: readonly number[] = Object.freeze([
  1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000,
])

/** One cumulative bucket of a {@link LatencySnapshot}: samples of at most `le` ms. */
export interface LatencyBucket {
  /** Upper bound, ms (`Infinity` for the last bucket, which holds every sample). */
  le: number
  /** Samples of at most `le` ms (cumulative). */
  count: number
}

/** A snapshot of a {@link LatencyHistogram}. All durations in milliseconds. */
export interface LatencySnapshot {
  /** Number of recorded samples. */
  count: number
  /** Mean latency in ms. */
  mean: number
  /** Median latency in ms. */
  p50: number
  /** 90th percentile in ms. */
  p90: number
  /** 99th percentile in ms. */
  p99: number
  /** Largest recorded latency in ms. */
  max: number
  /** Sum of the recorded latencies in ms. */
  sum: number
  /** Cumulative counts at the fixed bounds, the last one `le: Infinity` (equal to `count`). */
  buckets: readonly LatencyBucket[]
}

/** Records request latencies and reports quantiles. */
export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS)
  readonly #bounds: readonly number[]
  /** Samples per fixed bound (not cumulative); the last slot is above every bound. */
  readonly #fixed: Float64Array
  #count = 0
  #sum = 0
  #max = 0

  /** @param bounds Fixed bucket bounds, ms, increasing. @default {@link DEFAULT_LATENCY_BOUNDS} */
  constructor(bounds: readonly number[] = DEFAULT_LATENCY_BOUNDS) {
    if (bounds.some((b, i) => !(b > 0) || (i > 0 && b <= (bounds[i - 1] as number)))) {
      throw new RangeError('LatencyHistogram bounds must be increasing positive numbers (ms)')
    }
    this.#bounds = Object.freeze([...bounds])
    this.#fixed = new Float64Array(bounds.length + 1)
  }

  /** Record one latency, in milliseconds. */
  record(ms: number): void {
    let slot = 0
    while (slot < this.#bounds.length && ms > (this.#bounds[slot] as number)) slot++
    this.#fixed[slot] = (this.#fixed[slot] ?? 0) + 1
    const us = Math.max(1, ms * 1_000)
    const exp = Math.floor(Math.log2(us))
    const sub = Math.floor((us / 2 ** exp - 1) * SUB)
    const index = Math.min(BUCKETS - 1, exp * SUB + sub)
    this.#counts[index] = (this.#counts[index] ?? 0) + 1
    this.#count++
    this.#sum += ms
    if (ms > this.#max) this.#max = ms
  }

  /** Latency (ms) at quantile `q` in [0, 1]; 0 when empty. */
  quantile(q: number): number {
    if (this.#count === 0) return 0
    const rank = Math.ceil(q * this.#count)
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i] ?? 0
      if (seen >= rank) {
        const exp = Math.floor(i / SUB)
        const upper = 2 ** exp * (1 + ((i % SUB) + 1) / SUB)
        return Math.min(upper / 1_000, this.#max)
      }
    }
    return this.#max
  }

  /** Current figures. */
  snapshot(): LatencySnapshot {
    return {
      count: this.#count,
      mean: this.#count === 0 ? 0 : this.#sum / this.#count,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      max: this.#max,
      sum: this.#sum,
      buckets: this.buckets(),
    }
  }

  /** Cumulative counts at the fixed bounds, then `le: Infinity`. */
  buckets(): LatencyBucket[] {
    const out: LatencyBucket[] = []
    let seen = 0
    for (let i = 0; i <= this.#bounds.length; i++) {
      seen += this.#fixed[i] ?? 0
      out.push({ le: this.#bounds[i] ?? Number.POSITIVE_INFINITY, count: seen })
    }
    return out
  }

  /** Forget every sample. */
  reset(): void {
    this.#counts.fill(0)
    this.#fixed.fill(0)
    this.#count = 0
    this.#sum = 0
    this.#max = 0
  }
}
