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
 * turn past its deadline at the latest (the rule every `@ayala` deadline follows: `DeadlineTimer`
 * of `@ayala/internal`).
 */
import { DeadlineTimer } from '@ayala/internal'

/** The rejection of a read that outlived its deadline. @internal */
export const DEADLINE: unique symbol = Symbol('deadline')

interface Pending {
  deadline: number
  reject(reason: unknown): void
}

/** See the module note. @internal */
export class Deadlines {
  private readonly pending = new Set<Pending>()
  /** Armed for the earliest pending deadline; its verdict re-arms for the next one. */
  private readonly timer = new DeadlineTimer((cutOff) => this.judge(cutOff))
  /** The deadline the timer is armed for (`performance.now()` ms). */
  private armedFor = Number.POSITIVE_INFINITY

  /** `promise`, or a rejection with {@link DEADLINE} once `timeoutMs` has passed. */
  bound<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
    if (timeoutMs === Number.POSITIVE_INFINITY) return promise
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: performance.now() + timeoutMs, reject }
      this.pending.add(entry)
      if (entry.deadline < this.armedFor && !this.timer.judging) this.arm(entry.deadline)
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
    this.timer.stop()
    this.armedFor = Number.POSITIVE_INFINITY
  }

  private arm(at: number): void {
    this.armedFor = at
    this.timer.arm(at - performance.now())
  }

  // Only what was due when the timer fired (`cutOff`): a read that fell due later (this turn's
  // callbacks held the process) has its sockets read at the next turn first.
  private judge(cutOff: number): void {
    this.armedFor = Number.POSITIVE_INFINITY
    let next = Number.POSITIVE_INFINITY
    for (const entry of this.pending) {
      if (entry.deadline <= cutOff) {
        this.pending.delete(entry)
        entry.reject(DEADLINE)
      } else if (entry.deadline < next) next = entry.deadline
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next)
  }
}
