/**
 * How many records go into the next apply script when the consumer has a script time budget.
 *
 * While an apply script runs, Redis runs nothing else: a dashboard read that arrives meanwhile
 * waits for it. The script's cost is mostly one Redis command per distinct figure field the chunk
 * touches (pre-aggregation folds repeats), which depends on the data, not only on the record
 * count, so a fixed `batchSize` cannot promise a bound on that wait. The sizer measures instead:
 * every applied script reports the microseconds it ran on the server (Redis `TIME` at its start
 * and end, so queueing and network are not counted), the sizer keeps a moving average of server
 * time per record over its last scripts and sizes the next chunk to fit the budget, between 1
 * and `batchSize` records.
 *
 * The estimate is the second lowest time per record of the last five scripts. A script's server
 * time is wall-clock time: on a busy machine Redis is descheduled in the middle of some scripts,
 * which inflates them without any more work being done; a low order statistic reads the work
 * itself, so the chunks (and the throughput) do not collapse when the machine is loaded, while
 * one unusually fast script cannot oversize the next chunk either. A lasting change of the work
 * per record (new data, more distinct members) is followed after four scripts. With a fixed cost
 * F per script and r per record, the size converges to (budget - F) / r.
 */

/** Scripts whose time per record make up the estimate. */
const WINDOW = 5

/** @internal */
export class ChunkSizer {
  private readonly rates: number[] = []
  private next = 0
  private current: number

  /**
   * @param max Largest chunk (the consumer's `batchSize`), also the first chunk's size.
   * @param budgetUs Target server time per script, microseconds; `Infinity`: always `max`.
   */
  constructor(
    private readonly max: number,
    private readonly budgetUs: number,
  ) {
    this.current = max
  }

  /** Records in the next chunk. */
  get size(): number {
    return this.current
  }

  /** Record what a script of `records` records cost on the server. */
  observe(records: number, serverUs: number): void {
    if (!Number.isFinite(this.budgetUs) || records <= 0 || !(serverUs >= 0)) return
    this.rates[this.next] = serverUs / records
    this.next = (this.next + 1) % WINDOW
    const sorted = [...this.rates].sort((a, b) => a - b)
    const estimate = sorted[Math.min(1, sorted.length - 1)] as number
    const fit = estimate > 0 ? Math.floor(this.budgetUs / estimate) : this.max
    this.current = Math.max(1, Math.min(this.max, fit))
  }
}
