/**
 * A fixed-memory latency histogram: log-linear buckets (8 sub-buckets per power of two) from
 * 1 us to ~1 h, so recording is one Math.log2 and one array increment, and quantiles are read
 * from cumulative counts with a relative error under ~9 %.
 */

const SUB = 8
const BUCKETS = 32 * SUB

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
}

/** Records request latencies and reports quantiles. */
export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS)
  #count = 0
  #sum = 0
  #max = 0

  /** Record one latency, in milliseconds. */
  record(ms: number): void {
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
    }
  }

  /** Forget every sample. */
  reset(): void {
    this.#counts.fill(0)
    this.#count = 0
    this.#sum = 0
    this.#max = 0
  }
}
