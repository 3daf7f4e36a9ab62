/**
 * `maxScriptsInFlight`: Redis runs scripts one after another, so a dashboard read can queue
 * behind every apply script in flight; the gate lets at most `limit` of them be sent and not yet
 * answered, across all partitions, in arrival order.
 */

/** Lets at most `limit` holders in at a time, in arrival order (`maxScriptsInFlight`). @internal */
export class Gate {
  #free: number
  readonly #waiting: Array<() => void> = []
  constructor(limit: number) {
    this.#free = limit
  }
  async enter(): Promise<void> {
    if (this.#free > 0) {
      this.#free--
      return
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve))
  }
  leave(): void {
    const next = this.#waiting.shift()
    if (next === undefined) this.#free++
    else next()
  }
}
