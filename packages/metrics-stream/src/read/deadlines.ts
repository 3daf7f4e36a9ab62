/**
 * Deadlines of pending dashboard reads without a timer per read: one watchdog timer per
 * dashboard, armed at the earliest deadline of the reads in flight. When it fires, every read
 * past its deadline is rejected with {@link DEADLINE} and the timer is armed again for the next
 * one. Reads carry their own timeout (per call > instance > default), so the pending set is
 * scanned when the timer fires (a handful of entries: reads past their deadline trip the breaker,
 * which stops sending new ones) instead of assuming insertion order is deadline order.
 *
 * The bounded promise keeps running: its late outcome is dropped here (a handler is attached, so
 * a late rejection is never unhandled), and the caller has already answered.
 *
 * The verdict is taken after the loop has read its sockets (the timer schedules it in a
 * `setImmediate`): a timer fires before the loop's I/O, so after the process was held past a
 * deadline (a long task, a GC pause, busy cores) it would reject a read whose reply Redis gave
 * in time and which waits in the socket. Only what has still not answered is rejected, one loop
 * turn past its deadline at the latest (as @ayala/cache's watchdog does).
 */

/** The rejection of a read that outlived its deadline. @internal */
export const DEADLINE: unique symbol = Symbol('deadline')

interface Pending {
  deadline: number
  reject(reason: unknown): void
}

/** See the module note. @internal */
export class Deadlines {
  private readonly pending = new Set<Pending>()
  private timer: ReturnType<typeof setTimeout> | undefined
  /** The verdict is scheduled (see the module note); it re-arms the timer when it runs. */
  private verdict: ReturnType<typeof setImmediate> | undefined
  /** When the timer last fired (`performance.now()`): the verdict's cut-off. */
  private firedAt = 0
  private armedFor = Number.POSITIVE_INFINITY

  /** `promise`, or a rejection with {@link DEADLINE} once `timeoutMs` has passed. */
  bound<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
    if (timeoutMs === Number.POSITIVE_INFINITY) return promise
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: performance.now() + timeoutMs, reject }
      this.pending.add(entry)
      if (entry.deadline < this.armedFor && this.verdict === undefined) this.arm(entry.deadline)
      promise.then(
        (value) => {
          this.pending.delete(entry)
          resolve(value)
        },
        (error: unknown) => {
          this.pending.delete(entry)
          reject(error)
        },
      )
    })
  }

  /** Reject nothing more; clear the timer (the pending promises settle by themselves). */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.verdict !== undefined) clearImmediate(this.verdict)
    this.timer = undefined
    this.verdict = undefined
    this.armedFor = Number.POSITIVE_INFINITY
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.armedFor = at
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(at - performance.now())))
    // A read in flight keeps its socket (and the process) alive; an idle watchdog must not.
    this.timer.unref?.()
  }

  // The timers phase: the sockets are read next, then the verdict (see the module note).
  private readonly fire = (): void => {
    this.timer = undefined
    this.firedAt = performance.now()
    this.verdict = setImmediate(this.judge)
  }

  // Only what was due when the timer fired: a read that fell due later (this turn's callbacks
  // held the process) has its sockets read at the next turn first.
  private readonly judge = (): void => {
    this.verdict = undefined
    this.armedFor = Number.POSITIVE_INFINITY
    // Timers fire on the loop's cached clock: allow a millisecond of rounding.
    const now = this.firedAt + 1
    let next = Number.POSITIVE_INFINITY
    for (const entry of this.pending) {
      if (entry.deadline <= now) {
        this.pending.delete(entry)
        entry.reject(DEADLINE)
      } else if (entry.deadline < next) next = entry.deadline
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next)
  }
}
