/**
 * Deadline verdicts after I/O: the one rule every `@ayala` deadline follows (the cache's Redis
 * watchdog and `peerAckTimeout`, the dashboard reads' deadlines, the search reads' budget).
 *
 * A timer fires in the event loop's timers phase, BEFORE the poll phase reads the sockets. After
 * the process was held past a deadline (a long synchronous task, a GC pause, a host whose cores
 * are all busy), a verdict taken in the timer would find an operation pending whose reply already
 * sits unread in its socket, and reject an answer the server gave in time. So the timer only
 * schedules the verdict, in a `setImmediate` (the check phase, after this turn's poll): a reply
 * received meanwhile has settled its operation, and the verdict rejects only what was due when
 * the timer fired and is still unanswered, at most one loop turn past its deadline. What fell due
 * after the timer fired (this turn's callbacks held the process) is judged at a later turn, once
 * its sockets were read too.
 *
 * Two shapes; neither allocates per operation more than a bare timer would, and the
 * `setImmediate` is scheduled only when a deadline's timer fires, never per operation:
 *
 * - {@link DeadlineTimer}: ONE timer for many deadlines (a watchdog over a pending set), armed for
 *   the earliest; its verdict is handed the cut-off (what is due at or before it is judged) and
 *   re-arms for the rest.
 * - {@link setDeadline}: one timer per operation; `setTimeout`'s own argument slots carry the
 *   verdict and its subject (no closure per call). The verdict itself finds out whether its
 *   subject is still unanswered: it runs even when the subject settled after the timer fired.
 */

/**
 * Timers fire on the loop's cached clock, which can be up to a millisecond behind
 * `performance.now()`: a deadline this close past the firing time counts as due.
 */
const ROUNDING_MS = 1

/**
 * One timer for many deadlines whose verdict runs after the loop has read its sockets (see the
 * module note). The owner keeps the pending operations and their deadlines (`performance.now()`
 * ms); the timer keeps the timer, the scheduled verdict and the firing time.
 */
export class DeadlineTimer {
  private timer: ReturnType<typeof setTimeout> | undefined
  private verdict: ReturnType<typeof setImmediate> | undefined
  /** When the timer last fired (`performance.now()`). */
  private firedAt = 0

  /**
   * @param judge - the verdict: reject the operations whose deadline is `<= cutOff` (the firing
   *   time, `performance.now()` ms, plus a millisecond of clock rounding) and that are still
   *   unanswered, then {@link DeadlineTimer.arm} for the next deadline, if any
   */
  constructor(private readonly judge: (cutOff: number) => void) {}

  /** The timer is armed (not fired yet). */
  get armed(): boolean {
    return this.timer !== undefined
  }

  /** The timer fired and its verdict is scheduled: {@link DeadlineTimer.arm} waits for it. */
  get judging(): boolean {
    return this.verdict !== undefined
  }

  /**
   * Fire in `ms` (rounded up, at least 1 ms), replacing the armed timer if any. Ignored while a
   * verdict is scheduled: the verdict re-arms for what remains. The timer is unref'd: pending
   * operations keep their sockets (and the process) alive, an idle deadline must not.
   */
  arm(ms: number): void {
    if (this.verdict !== undefined) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(ms)))
    this.timer.unref?.()
  }

  /** Clear the timer and a scheduled verdict: nothing is judged any more (the owner is closing). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.verdict !== undefined) clearImmediate(this.verdict)
    this.timer = undefined
    this.verdict = undefined
  }

  // The timers phase: the sockets are read next, then the verdict.
  private readonly fire = (): void => {
    this.timer = undefined
    this.firedAt = performance.now()
    this.verdict = setImmediate(this.run)
  }

  private readonly run = (): void => {
    this.verdict = undefined
    this.judge(this.firedAt + ROUNDING_MS)
  }
}

/**
 * Arm one operation's deadline: `ms` from now, `verdict(subject)` is scheduled in a
 * `setImmediate`, so it runs once the loop has read its sockets (see the module note). No
 * closure per call: `setTimeout` carries `verdict` and `subject`. The verdict must check that its
 * subject is still unanswered: clearing the returned timer stops it only before the timer fired.
 *
 * @param ms - the deadline, milliseconds from now
 * @param verdict - judges `subject` (rejects it if it is still unanswered)
 * @param subject - what `verdict` is called with
 * @returns the timer: clear it once the operation settled; unref it where an idle deadline must
 *   not hold the process
 */
export function setDeadline<S>(
  ms: number,
  verdict: (subject: S) => void,
  subject: S,
): ReturnType<typeof setTimeout> {
  return setTimeout(judgeAfterIo, ms, verdict, subject)
}

// The timers phase: the sockets are read next, then the verdict.
function judgeAfterIo<S>(verdict: (subject: S) => void, subject: S): void {
  setImmediate(verdict, subject)
}
