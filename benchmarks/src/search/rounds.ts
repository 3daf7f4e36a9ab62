/**
 * Interleaved rounds for latency tasks that share one engine: the engine's caches and the
 * machine's drift are the same for every row because every row runs in every round.
 */
import { type ResultRow, rowFromSamples, withRatios } from '../report.js'

/**
 * Interleaved rounds: after a warm-up of each task, every round runs each task for a time slice
 * (at least `minSamples` calls), in an order rotated by one each round; samples are merged.
 */
export interface RoundTask {
  name: string
  fn: () => Promise<void>
  samples: number[]
}

export class Rounds {
  readonly #tasks: RoundTask[] = []

  constructor(readonly plan: { rounds: number; sliceMs: number; warmupMs: number; minSamples: number }) {}

  add(name: string, fn: () => Promise<void>): this {
    this.#tasks.push({ name, fn, samples: [] })
    return this
  }

  async run(): Promise<void> {
    const { rounds, sliceMs, warmupMs, minSamples } = this.plan
    for (const task of this.#tasks) {
      const end = performance.now() + warmupMs
      while (performance.now() < end) await task.fn()
    }
    const n = this.#tasks.length
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < n; k++) {
        const task = this.#tasks[(round + k) % n] as RoundTask
        const end = performance.now() + sliceMs
        for (let count = 0; count < minSamples || performance.now() < end; count++) {
          const t0 = performance.now()
          await task.fn()
          task.samples.push(performance.now() - t0)
        }
      }
    }
  }

  rows(baseline: string): ResultRow[] {
    return withRatios(
      this.#tasks.map((task) => rowFromSamples(task.name, task.samples)),
      baseline,
    )
  }
}
